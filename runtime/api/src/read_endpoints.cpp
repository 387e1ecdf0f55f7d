// SPDX-License-Identifier: Apache-2.0
// The node API's read endpoints: readiness, status, actors, journals, dead
// letters, timers, topics.
#include <algorithm>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "internal/node_api_impl.hpp"

namespace cairn::api {

namespace json = boost::json;

namespace {

/// Dead letters one `GET /api/v1/dead-letters` examines at most.
constexpr uint64_t dead_letter_scan_limit = 1'000;

std::string trace_id_of(const envelope& env) {
  trace_context tc;
  return parse_traceparent(env.traceparent, tc) ? tc.trace_id : std::string{};
}

json::object dead_letter_json(const dead_letter& dl, bool full) {
  json::object o;
  o["id"] = dl.env.id;
  o["to"] = dl.env.to;
  o["type"] = dl.env.type;
  o["error"] = dl.error;
  o["attempts"] = dl.attempts;
  o["failed_ms"] = dl.failed_ms;
  o["trace_id"] = trace_id_of(dl.env);
  if (full) {
    o["from"] = dl.env.from;
    o["traceparent"] = dl.env.traceparent;
    o["idempotency_key"] = dl.env.idempotency_key;
    o["created_ms"] = dl.env.created_ms;
    json::array times;
    for (auto t : dl.attempt_ms)
      times.push_back(t);
    o["attempt_ms"] = std::move(times);
    if (dl.env.format == static_cast<uint8_t>(payload_format::json))
      o["payload"] = dl.env.payload;
    else
      o["payload_base64"] = base64_encode(dl.env.payload);
    if (!dl.raw.empty())
      o["raw_base64"] = base64_encode(dl.raw);
  }
  return o;
}

json::object summary_json(const runtime::actor_summary& a) {
  json::object o;
  o["id"] = a.id;
  o["kind"] = std::string{kind_of(a.id)};
  o["active"] = a.active;
  o["mailbox_depth"] = a.mailbox_depth;
  o["journal_length"] = a.journal_length;
  o["snapshot_seq"] = a.snapshot_seq;
  o["head_attempts"] = a.head_attempts;
  o["last_error"] = a.last_error.empty() ? json::value(nullptr) : json::value(a.last_error);
  o["status"] = a.stopped ? "stopped" : (a.active ? "active" : "idle");
  if (a.stopped)
    o["stop_reason"] = a.stop_reason;
  if (!a.state_error.empty())
    o["state_error"] = a.state_error;
  if (!a.state_json.empty()) {
    boost::system::error_code ec;
    auto state = json::parse(a.state_json, ec);
    o["state"] = ec ? json::value(a.state_json) : std::move(state);
  }
  return o;
}

http_response invalid_actor_id(const std::string& id) {
  return problem(400, "invalid_argument", "invalid actor id '" + id + "': expected kind/key");
}

} // namespace

http_response node_api::readiness() {
  if (!rt_.ready())
    return problem(503, "not_ready", "the node is recovering or stopping", {{"Retry-After", "1"}});
  auto health = rt_.store().health();
  if (!health.writable)
    return problem(503, "storage_unwritable",
                   "storage is not writable (" + health.reason
                     + "); new work is refused until it recovers (free disk space)",
                   {{"Retry-After", "1"}});
  return http_response{200, "text/plain", "ready\n", {}, nullptr};
}

http_response node_api::status() {
  auto s = rt_.stats();
  json::object o;
  o["node_id"] = opts_.node_id;
  o["version"] = opts_.version;
  o["durability"] = opts_.durability;
  o["ready"] = rt_.ready();
  o["storage_writable"] = s.storage_writable;
  if (!s.storage_writable)
    o["storage_reason"] = s.storage_unwritable_reason;
  o["uptime_s"] =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  json::object t;
  t["accepted"] = s.accepted;
  t["duplicates"] = s.duplicates;
  t["busy"] = s.busy;
  t["processed"] = s.processed;
  t["failed"] = s.failed;
  t["retried"] = s.retried;
  t["dead_lettered"] = s.dead_lettered;
  t["pending"] = s.pending;
  t["active_actors"] = s.active;
  t["passivations"] = s.passivations;
  t["timers"] = s.timers;
  t["commits"] = s.commits;
  o["totals"] = std::move(t);
  return json_response(200, o);
}

http_response node_api::actor(const std::string& id) {
  if (!valid_actor_id(id))
    return invalid_actor_id(id);
  auto a = rt_.describe(id);
  if (!a)
    return from_error(a.error());
  return json_response(200, summary_json(*a));
}

http_response node_api::actors(const query& q) {
  uint64_t limit = 0;
  http_response err;
  if (!number_param(q, "limit", 100, 1, 1'000, limit, err))
    return err;
  auto kind = q.count("kind") ? q.at("kind") : std::string{};
  auto cursor = q.count("cursor") ? q.at("cursor") : std::string{};
  auto ids = rt_.actor_ids(kind, cursor, limit);
  if (!ids)
    return from_error(ids.error());
  json::array arr;
  for (const auto& id : *ids)
    if (auto a = rt_.describe(id))
      arr.push_back(summary_json(*a));
  json::object o;
  o["actors"] = std::move(arr);
  o["next_cursor"] =
    !ids->empty() && ids->size() >= limit ? json::value(ids->back()) : json::value(nullptr);
  return json_response(200, o);
}

http_response node_api::topics() {
  auto ts = rt_.topics(1'000);
  if (!ts)
    return from_error(ts.error());
  json::array arr;
  for (const auto& t : *ts) {
    json::object o;
    o["name"] = t.name;
    o["events"] = t.events;
    o["subscriptions"] = t.subscriptions.size();
    arr.push_back(std::move(o));
  }
  json::object o;
  o["topics"] = std::move(arr);
  return json_response(200, o);
}

http_response node_api::subscriptions(const std::string& name) {
  auto ts = rt_.topics(100'000);
  if (!ts)
    return from_error(ts.error());
  for (const auto& t : *ts) {
    if (t.name != name)
      continue;
    json::array arr;
    for (const auto& [subscriber, offset] : t.subscriptions) {
      json::object o;
      o["subscriber"] = subscriber;
      o["next_offset"] = offset;
      o["lag"] = t.events > offset ? t.events - offset : 0;
      arr.push_back(std::move(o));
    }
    json::object o;
    o["topic"] = name;
    o["events"] = t.events;
    o["subscriptions"] = std::move(arr);
    return json_response(200, o);
  }
  return problem(404, "not_found", "no topic " + name);
}

http_response node_api::timers(const query& q) {
  uint64_t limit = 0;
  http_response err;
  if (!number_param(q, "limit", 100, 1, 10'000, limit, err))
    return err;
  auto ts = rt_.timers(limit);
  if (!ts)
    return from_error(ts.error());
  json::array arr;
  for (const auto& t : *ts) {
    json::object o;
    o["due_ms"] = t.due_ms;
    o["to"] = t.to;
    o["type"] = t.type;
    o["envelope_id"] = t.envelope_id;
    arr.push_back(std::move(o));
  }
  json::object o;
  o["timers"] = std::move(arr);
  return json_response(200, o);
}

http_response node_api::dead_letters(const query& q) {
  uint64_t limit = 0;
  http_response err;
  if (!number_param(q, "limit", 100, 1, 1'000, limit, err))
    return err;
  auto kind = q.count("kind") ? q.at("kind") : std::string{};
  auto cursor = q.count("cursor") ? q.at("cursor") : std::string{};
  auto error_text = q.count("error") ? q.at("error") : std::string{};
  uint64_t since = 0, until = 0;
  if (!number_param(q, "since", 0, 0, UINT64_MAX, since, err)
      || !number_param(q, "until", UINT64_MAX, 0, UINT64_MAX, until, err))
    return err;
  // The work of one request is bounded: it examines at most
  // `dead_letter_scan_limit` dead letters, matching or not. A filter that
  // matches little answers with what it found so far and a `next_cursor`
  // to continue from, instead of scanning the whole column family.
  json::array arr;
  std::string last;
  uint64_t examined = 0;
  bool at_end = false;
  while (arr.size() < limit && !at_end && examined < dead_letter_scan_limit) {
    auto want = std::min<uint64_t>(limit, dead_letter_scan_limit - examined);
    auto page = rt_.dead_letters(want, cursor);
    if (!page)
      return from_error(page.error());
    at_end = page->size() < want;
    for (const auto& dl : *page) {
      ++examined;
      cursor = dl.env.id;
      if ((!kind.empty() && kind_of(dl.env.to) != kind)
          || (!error_text.empty() && dl.error.find(error_text) == std::string::npos)
          || static_cast<uint64_t>(dl.failed_ms) < since
          || static_cast<uint64_t>(dl.failed_ms) > until)
        continue;
      arr.push_back(dead_letter_json(dl, false));
      last = dl.env.id;
      if (arr.size() >= limit) {
        at_end = false; // more may follow the page
        break;
      }
    }
  }
  json::object o;
  bool full = arr.size() >= limit;
  o["dead_letters"] = std::move(arr);
  // A full page continues after its last row; a page cut short by the scan
  // bound continues after the last row examined.
  o["next_cursor"] = full ? json::value(last)
                          : (!at_end && !cursor.empty() && examined > 0 ? json::value(cursor)
                                                                        : json::value(nullptr));
  o["examined"] = examined;
  return json_response(200, o);
}

http_response node_api::dead_letter(const std::string& id) {
  auto dl = rt_.find_dead_letter(id);
  if (!dl)
    return from_error(dl.error());
  return json_response(200, dead_letter_json(*dl, true));
}

http_response node_api::journal(const std::string& id, const query& q) {
  if (!valid_actor_id(id))
    return invalid_actor_id(id);
  uint64_t from = 0, limit = 0;
  http_response err;
  if (!number_param(q, "from", 1, 0, UINT64_MAX - 1, from, err)
      || !number_param(q, "limit", 100, 1, 10'000, limit, err))
    return err;
  json::array events;
  uint64_t next = from;
  auto rerr = rt_.read_journal(id, from, limit,
                               [&](uint64_t seq, std::string_view type, std::string_view payload) {
                                 json::object e;
                                 e["seq"] = seq;
                                 e["type"] = type;
                                 e["size"] = payload.size();
                                 e["payload_base64"] = base64_encode(payload);
                                 events.push_back(std::move(e));
                                 next = seq + 1;
                               });
  if (rerr)
    return from_error(rerr);
  json::object o;
  o["actor"] = id;
  o["events"] = std::move(events);
  o["next_from"] = next;
  return json_response(200, o);
}

} // namespace cairn::api
