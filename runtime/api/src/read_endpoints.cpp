// SPDX-License-Identifier: Apache-2.0
// The node API's read endpoints: readiness, status, actors, journals, dead
// letters, timers, topics (traces: trace_endpoints.cpp).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sys/resource.h>
#include <unistd.h>

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

} // namespace

disk_figures disk_usage(const std::string& dir) {
  namespace fs = std::filesystem;
  disk_figures d;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec))
      d.used += it->file_size(fec);
  }
  auto space = fs::space(dir, ec);
  if (!ec)
    d.free = space.available;
  return d;
}

// "2026-12-01T18:09:13.410Z"; null for 0 (not recorded).
json::value iso_time(int64_t ms) {
  if (ms <= 0)
    return nullptr;
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return json::value(buf);
}

// A typed payload as JSON where its type has a codec, else as base64 of
// its bytes (with the reason, so an operator knows why).
void put_payload(runtime& rt, json::object& o, std::string_view type, uint8_t format,
                 std::string_view payload) {
  if (auto text = rt.payload_json(type, format, payload)) {
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (!ec) {
      o["payload"] = std::move(v);
      return;
    }
    if (format == static_cast<uint8_t>(payload_format::json)) {
      o["payload_text"] = *text; // sent as JSON but not parseable: shown as is
      return;
    }
  }
  o["payload_base64"] = base64_encode(payload);
}

json::object dead_letter_json(runtime& rt, const dead_letter& dl, bool full) {
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
    put_payload(rt, o, dl.env.type, dl.env.format, dl.env.payload);
    if (!dl.raw.empty())
      o["raw_base64"] = base64_encode(dl.raw);
  }
  return o;
}

json::object journal_json(runtime& rt, const journal_entry& j) {
  json::object e;
  e["seq"] = j.seq;
  e["type"] = j.type;
  e["time"] = iso_time(j.time_ms);
  e["time_ms"] = j.time_ms;
  e["cause"] = j.cause.empty() ? json::value(nullptr) : json::value(j.cause);
  e["trace_id"] = j.trace_id.empty() ? json::value(nullptr) : json::value(j.trace_id);
  e["size"] = j.payload.size();
  put_payload(rt, e, j.type, static_cast<uint8_t>(payload_format::binary), j.payload);
  return e;
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

http_response node_api::readiness() {
  if (!rt_.ready())
    return problem(503, "not_ready",
                   !opts_.starting ? "the node is recovering or stopping"
                   : starting()    ? "the node is starting (recovering its data)"
                                   : "the node is stopping",
                   {{"Retry-After", "1"}});
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
  // Milliseconds are precision enough, and a plain decimal (serialize_plain).
  auto uptime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started_)
                     .count();
  o["uptime_s"] = static_cast<double>(uptime_ms) / 1000.0;
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
  t["commit_requests"] = s.commit_ops;
  t["log_bytes"] = s.log_bytes;
  t["mailbox_rows_unwritten"] = s.rows_unwritten;
  t["mailbox_rows_carried"] = s.rows_carried;
  t["mailbox_rows_read"] = s.mailbox_rows_read;
  o["totals"] = std::move(t);
  // The CPU the commit thread is bound to (the `commit_cpu` setting), or null.
  o["commit_cpu"] = s.commit_cpu >= 0 ? json::value(s.commit_cpu) : json::value(nullptr);
  // What storage holds, kept across restarts (the totals above count since
  // this process started).
  json::object stored;
  stored["pending"] = s.pending;
  stored["timers"] = s.timers;
  stored["dead_letters"] = s.dead_letters;
  o["stored"] = std::move(stored);
  o["pid"] = static_cast<int64_t>(getpid());
  // The node process's CPU time (user and system) since it started.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1000 + tv.tv_usec / 1000; };
  o["cpu_ms"] = static_cast<int64_t>(ms(ru.ru_utime) + ms(ru.ru_stime));
  o["address"] = opts_.address ? json::value(opts_.address()) : json::value(nullptr);
  json::array kinds;
  for (const auto& [kind, counters] : s.by_kind)
    kinds.push_back(json::value(kind));
  o["kinds"] = std::move(kinds);
  if (!opts_.data_dir.empty()) {
    auto disk = disk_usage(opts_.data_dir);
    o["data_dir"] = opts_.data_dir;
    o["data_dir_bytes"] = disk.used;
    o["disk_free_bytes"] = disk.free;
  }
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
  // One id more than the page tells whether there is a next page: a page
  // that is exactly full but the last has no next_cursor.
  auto ids = rt_.actor_ids(kind, cursor, limit + 1);
  if (!ids)
    return from_error(ids.error());
  bool more = ids->size() > limit;
  if (more)
    ids->resize(limit);
  json::array arr;
  for (const auto& id : *ids)
    if (auto a = rt_.describe(id))
      arr.push_back(summary_json(*a));
  json::object o;
  o["actors"] = std::move(arr);
  o["next_cursor"] = more ? json::value(ids->back()) : json::value(nullptr);
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
  // to continue from, instead of scanning the whole column family. One match
  // beyond the page tells whether a full page has a next one.
  json::array arr;
  std::string last;                 // the page's last dead letter
  std::string examined_to = cursor; // the last dead letter examined
  uint64_t examined = 0;
  bool more = false, at_end = false;
  while (!more && !at_end && examined < dead_letter_scan_limit) {
    auto want = std::min<uint64_t>(limit + 1, dead_letter_scan_limit - examined);
    auto page = rt_.dead_letters(want, examined_to);
    if (!page)
      return from_error(page.error());
    at_end = page->size() < want;
    for (const auto& dl : *page) {
      bool match = (kind.empty() || kind_of(dl.env.to) == kind)
                   && (error_text.empty() || dl.error.find(error_text) != std::string::npos)
                   && static_cast<uint64_t>(dl.failed_ms) >= since
                   && static_cast<uint64_t>(dl.failed_ms) <= until;
      if (match && arr.size() >= limit) {
        more = true; // not consumed: the next page starts with it
        break;
      }
      ++examined;
      examined_to = dl.env.id;
      if (!match)
        continue;
      arr.push_back(dead_letter_json(rt_, dl, false));
      last = dl.env.id;
    }
  }
  json::object o;
  o["dead_letters"] = std::move(arr);
  // A full page with more after it continues after its last row; a page
  // cut short by the scan bound continues after the last row examined.
  o["next_cursor"] = more                        ? json::value(last)
                     : (!at_end && examined > 0) ? json::value(examined_to)
                                                 : json::value(nullptr);
  o["examined"] = examined;
  return json_response(200, o);
}

http_response node_api::dead_letter(const std::string& id) {
  auto dl = rt_.find_dead_letter(id);
  if (!dl)
    return from_error(dl.error());
  return json_response(200, dead_letter_json(rt_, *dl, true));
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
  auto rerr = rt_.read_journal(id, from, limit, [&](const journal_entry& j) {
    events.push_back(journal_json(rt_, j));
    next = j.seq + 1;
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
