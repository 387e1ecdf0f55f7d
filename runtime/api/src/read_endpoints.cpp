// SPDX-License-Identifier: Apache-2.0
// The node API's read endpoints: readiness, status, actors, journals, dead
// letters, timers, topics.
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

namespace {

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

} // namespace

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
  o["totals"] = std::move(t);
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

// One request's path: every step (each attempt) on every actor, in order,
// with the events each journaled and the messages each sent.
http_response node_api::trace(const std::string& trace_id, json::object head) {
  auto steps = rt_.trace_steps(trace_id);
  if (!steps)
    return from_error(steps.error());
  json::array arr;
  for (const auto& sp : *steps) {
    json::object o;
    o["actor"] = sp.actor;
    o["type"] = sp.type;
    o["envelope_id"] = sp.envelope_id;
    o["attempt"] = sp.attempt + 1;
    o["start"] = iso_time(sp.start_ms());
    o["start_ms"] = sp.start_ms();
    o["start_us"] = sp.start_us;
    o["duration_ms"] = sp.end_ms() - sp.start_ms();
    o["duration_us"] = sp.end_us - sp.start_us;
    o["status"] = sp.status_text();
    o["span_id"] = sp.span_id;
    o["parent_span_id"] = sp.parent_span_id;
    json::array events;
    if (sp.events > 0) {
      ignore_error(
        rt_.read_journal(sp.actor, sp.first_event, sp.events,
                         [&](const journal_entry& j) { events.push_back(journal_json(rt_, j)); }));
    }
    o["events"] = std::move(events);
    json::array sent;
    for (const auto& m : sp.sent)
      sent.push_back(json::object{{"id", m.id}, {"to", m.to}, {"type", m.type}});
    o["sent"] = std::move(sent);
    arr.push_back(std::move(o));
  }
  if (arr.empty())
    return problem(404, "not_found",
                   "no steps recorded for trace " + trace_id
                     + " (unknown, not yet processed, or older than the span retention)");
  head["trace_id"] = trace_id;
  head["steps"] = std::move(arr);
  return json_response(200, head);
}

namespace {

const char* kind_name(span_kind k) {
  switch (k) {
    case span_kind::server: return "server";
    case span_kind::client: return "client";
    case span_kind::producer: return "producer";
    case span_kind::consumer: return "consumer";
    default: return "internal";
  }
}

json::value attribute_json(const span_attribute& a) {
  if (auto* str = std::get_if<std::string>(&a.value))
    return json::value(*str);
  if (auto* i = std::get_if<int64_t>(&a.value))
    return json::value(*i);
  if (auto* d = std::get_if<double>(&a.value))
    return json::value(*d);
  return json::value(std::get<bool>(a.value));
}

/// The attribute `key` of `s` as text, or "".
std::string attribute_text(const span_record& s, std::string_view key) {
  for (const auto& a : s.attributes)
    if (a.key == key)
      if (auto* str = std::get_if<std::string>(&a.value))
        return *str;
  return {};
}

std::string_view kind_of_actor(std::string_view actor) {
  return actor.substr(0, std::min(actor.find('/'), actor.size()));
}

/// Whether span `s` belongs to tool `tool` or plan `plan` (either empty: any).
bool touches(const span_record& s, const std::string& tool, const std::string& plan) {
  bool tool_ok = tool.empty() || attribute_text(s, "gen_ai.tool.name") == tool
                 || kind_of_actor(s.actor) == "tool." + tool;
  bool plan_ok =
    plan.empty() || attribute_text(s, "cairn.plan.id") == plan || s.actor == "plan/" + plan;
  return tool_ok && plan_ok;
}

} // namespace

// One request as a tree of spans: each span with its children, in the
// order they started; roots are spans whose parent is not in the trace
// (the caller's span, or none).
http_response node_api::trace_tree(const std::string& trace_id) {
  auto spans = rt_.trace_steps(trace_id);
  if (!spans)
    return from_error(spans.error());
  if (spans->empty())
    return problem(404, "not_found",
                   "no spans recorded for trace " + trace_id
                     + " (unknown, not yet processed, or older than the span retention)");
  int64_t start = INT64_MAX, end = INT64_MIN;
  size_t errors = 0;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spans->size(); ++i) {
    const auto& sp = (*spans)[i];
    start = std::min(start, sp.start_us);
    end = std::max(end, sp.end_us);
    errors += sp.status == span_status::error ? 1 : 0;
    index.emplace(sp.span_id, i);
  }
  std::vector<std::vector<size_t>> children(spans->size());
  std::vector<size_t> roots;
  for (size_t i = 0; i < spans->size(); ++i) {
    auto it = index.find((*spans)[i].parent_span_id);
    if (it == index.end() || it->second == i)
      roots.push_back(i);
    else
      children[it->second].push_back(i);
  }
  // Depth-first, children in start order (trace_steps sorted them so).
  std::function<json::object(size_t, int)> node = [&](size_t i, int depth) {
    const auto& sp = (*spans)[i];
    json::object o;
    o["span_id"] = sp.span_id;
    o["parent_span_id"] = sp.parent_span_id;
    o["name"] = sp.name;
    o["kind"] = kind_name(sp.kind);
    o["start"] = iso_time(sp.start_ms());
    o["start_us"] = sp.start_us;
    o["offset_us"] = sp.start_us - start;
    o["duration_us"] = sp.end_us - sp.start_us;
    o["status"] = sp.status == span_status::error ? "error"
                  : sp.status == span_status::ok  ? "ok"
                                                  : "unset";
    if (!sp.status_message.empty())
      o["status_message"] = sp.status_message;
    if (!sp.actor.empty()) {
      o["actor"] = sp.actor;
      o["type"] = sp.type;
      o["envelope_id"] = sp.envelope_id;
      o["attempt"] = sp.attempt + 1;
      o["events"] = sp.events;
      json::array sent;
      for (const auto& m : sp.sent)
        sent.push_back(json::object{{"id", m.id}, {"to", m.to}, {"type", m.type}});
      o["sent"] = std::move(sent);
    }
    json::object attrs;
    for (const auto& a : sp.attributes)
      attrs[a.key] = attribute_json(a);
    o["attributes"] = std::move(attrs);
    json::array links;
    for (const auto& l : sp.links)
      links.push_back(json::object{{"trace_id", l.trace_id},
                                   {"span_id", l.span_id},
                                   {"type", l.type},
                                   {"local", index.count(l.span_id) != 0}});
    o["links"] = std::move(links);
    json::array kids;
    if (depth < 256) // a cycle cannot occur (ids are unique), but depth is bounded anyway
      for (auto c : children[i])
        kids.push_back(node(c, depth + 1));
    o["children"] = std::move(kids);
    return o;
  };
  json::array out;
  for (auto r : roots)
    out.push_back(node(r, 0));
  json::object head;
  head["trace_id"] = trace_id;
  head["start"] = iso_time(start / 1000);
  head["start_us"] = start;
  head["duration_us"] = end - start;
  head["span_count"] = spans->size();
  head["errors"] = errors;
  head["roots"] = std::move(out);
  return json_response(200, head);
}

// Recent traces, newest first: spans that ended in [since, until) grouped
// by trace, with filters. A row budget keeps one request cheap; `complete`
// says whether the window was read to its end.
http_response node_api::trace_list(const query& q) {
  auto number = [&](const char* name, int64_t fallback, int64_t& out) -> bool {
    auto it = q.find(name);
    if (it == q.end() || it->second.empty()) {
      out = fallback;
      return true;
    }
    try {
      size_t used = 0;
      out = std::stoll(it->second, &used);
      return used == it->second.size();
    } catch (...) {
      return false;
    }
  };
  auto text = [&](const char* name) {
    auto it = q.find(name);
    return it == q.end() ? std::string{} : it->second;
  };
  int64_t now = now_ms(), since = 0, until = 0, min_ms = 0, limit = 0;
  if (!number("since_ms", now - 15 * 60 * 1000, since) || !number("until_ms", now + 1, until)
      || !number("min_duration_ms", 0, min_ms) || !number("limit", 50, limit) || limit < 1
      || limit > 1000)
    return problem(400, "invalid_parameter",
                   "since_ms and until_ms are Unix milliseconds, min_duration_ms a whole number, "
                   "limit 1 to 1000");
  auto status = text("status");
  if (!status.empty() && status != "ok" && status != "error")
    return problem(400, "invalid_parameter", "status is ok or error");
  auto actor = text("actor"), tool = text("tool"), plan = text("plan");
  struct summary {
    int64_t start = INT64_MAX, end = INT64_MIN;
    size_t spans = 0, errors = 0;
    std::string root, root_actor;
    int64_t root_start = INT64_MAX;
    bool matches = false;
    std::set<std::string> ids;
    std::set<std::string> parents;
  };
  std::map<std::string, summary> traces;
  constexpr size_t budget = 200'000;
  size_t rows = 0;
  bool complete = true;
  std::string cursor = runtime::span_cursor_at(since * 1000);
  while (true) {
    auto page = rt_.read_spans(cursor, until * 1000, 4096);
    if (!page)
      return from_error(page.error());
    for (auto& sp : page->spans) {
      auto& t = traces[sp.trace_id];
      t.start = std::min(t.start, sp.start_us);
      t.end = std::max(t.end, sp.end_us);
      ++t.spans;
      t.errors += sp.status == span_status::error ? 1 : 0;
      t.ids.insert(sp.span_id);
      t.parents.insert(sp.parent_span_id);
      if (sp.start_us < t.root_start) {
        t.root_start = sp.start_us;
        t.root = sp.name;
        t.root_actor = sp.actor;
      }
      t.matches = t.matches || ((actor.empty() || sp.actor == actor) && touches(sp, tool, plan));
    }
    rows += page->rows;
    if (page->rows < 4096)
      break;
    cursor = page->next;
    if (rows >= budget) {
      complete = false;
      break;
    }
  }
  std::vector<std::pair<std::string, const summary*>> picked;
  for (const auto& [id, t] : traces) {
    if (!t.matches || (t.end - t.start) < min_ms * 1000)
      continue;
    if (status == "error" && t.errors == 0)
      continue;
    if (status == "ok" && t.errors != 0)
      continue;
    picked.emplace_back(id, &t);
  }
  std::sort(picked.begin(), picked.end(),
            [](const auto& a, const auto& b) { return a.second->start > b.second->start; });
  if (picked.size() > static_cast<size_t>(limit))
    picked.resize(static_cast<size_t>(limit));
  json::array arr;
  for (const auto& [id, t] : picked)
    arr.push_back(json::object{{"trace_id", id},
                               {"root", t->root},
                               {"root_actor", t->root_actor},
                               {"start", iso_time(t->start / 1000)},
                               {"start_us", t->start},
                               {"duration_us", t->end - t->start},
                               {"spans", t->spans},
                               {"errors", t->errors}});
  json::object o;
  o["traces"] = std::move(arr);
  o["since_ms"] = since;
  o["until_ms"] = until;
  o["spans_read"] = rows;
  o["complete"] = complete;
  return json_response(200, o);
}

http_response node_api::trace_by_key(const query& q) {
  auto key = q.find("idempotency_key");
  if (key == q.end() || key->second.empty())
    return problem(400, "invalid_parameter",
                   "give a non-empty 'idempotency_key' (and optionally 'actor'), or use "
                   "/api/v1/traces/{trace_id}/steps");
  auto actor = q.find("actor");
  std::string to = actor == q.end() ? std::string{} : actor->second;
  if (!to.empty() && !valid_actor_id(to))
    return invalid_actor_id(to);
  auto found = rt_.find_by_idempotency_key(key->second, to);
  if (!found)
    return from_error(found.error());
  if (found->trace_id.empty())
    return problem(404, "not_found",
                   "the message with idempotency key '" + key->second
                     + "' was accepted without a trace id");
  json::object head;
  head["idempotency_key"] = key->second;
  head["actor"] = found->to;
  head["envelope_id"] = found->envelope_id;
  return trace(found->trace_id, std::move(head));
}

} // namespace cairn::api
