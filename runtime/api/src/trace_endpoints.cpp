// SPDX-License-Identifier: Apache-2.0
// The node API's trace endpoints (docs/observability.md, "Reading traces"):
// one request's steps, its span tree, and the list of recent traces.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "internal/node_api_impl.hpp"
#include "internal/step_tool.hpp"

namespace cairn::api {

namespace json = boost::json;

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
    if (auto tool = step_tool(sp); !tool.empty()) {
      attrs["gen_ai.operation.name"] = "execute_tool";
      attrs["gen_ai.tool.name"] = tool;
    }
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
