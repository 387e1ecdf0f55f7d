// SPDX-License-Identifier: Apache-2.0
// `cairn trace TRACE_ID` / `cairn trace --key IDEMPOTENCY_KEY [--actor ID]`:
// every step one request caused, on every actor, in the order they ran.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace {

namespace json = boost::json;

// One line per step, then one indented line per event it journaled and per
// message it sent.
void print_steps(const json::value& body) {
  const auto& o = body.as_object();
  std::printf("trace %s", cell(o.at("trace_id")).c_str());
  if (auto* key = o.if_contains("idempotency_key"))
    std::printf("  (idempotency key %s, %s, message %s)", cell(*key).c_str(),
                field(body, "actor").c_str(), field(body, "envelope_id").c_str());
  std::printf("\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : o.at("steps").as_array()) {
    rows.push_back({field(s, "start"), field(s, "actor"), field(s, "type"),
                    "#" + field(s, "attempt"), field(s, "duration_ms") + " ms",
                    field(s, "status")});
    for (const auto& e : s.at("events").as_array()) {
      auto* payload = e.as_object().if_contains("payload");
      rows.push_back({"", "  journaled", field(e, "type"), "seq " + field(e, "seq"), "",
                      payload ? json::serialize(*payload) : "(" + field(e, "size") + " bytes)"});
    }
    for (const auto& m : s.at("sent").as_array())
      rows.push_back({"", "  sent", field(m, "type"), "to " + field(m, "to"), "", field(m, "id")});
  }
  print_table({"START", "ACTOR", "TYPE", "ATTEMPT", "TOOK", "STATUS"}, rows);
}

/// "0.41 ms", "12.3 ms", "2.1 s": a duration in microseconds, short.
std::string took(int64_t us) {
  char buf[32];
  if (us < 10'000)
    std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(us) / 1000);
  else if (us < 10'000'000)
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us) / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

int64_t number(const json::value& v, const char* name) {
  auto* o = v.if_object();
  auto* f = o ? o->if_contains(name) : nullptr;
  return f && (f->is_int64() || f->is_uint64()) ? f->to_number<int64_t>() : 0;
}

// The waterfall: one row per span, indented by its depth in the tree, with
// a bar placed and sized on the trace's own time line (so the gaps between
// spans show), errors marked and explained, attempts and links named.
void print_waterfall(const json::value& body) {
  bool colour = isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
  auto total = std::max<int64_t>(number(body, "duration_us"), 1);
  std::printf("trace %s  %s, %lld spans, %lld errors, started %s\n",
              field(body, "trace_id").c_str(), took(number(body, "duration_us")).c_str(),
              static_cast<long long>(number(body, "span_count")),
              static_cast<long long>(number(body, "errors")), field(body, "start").c_str());
  struct row {
    std::string name, actor, attempt, took, bar, note;
    bool error = false;
  };
  std::vector<row> rows;
  constexpr int width = 40;
  std::function<void(const json::value&, int)> walk = [&](const json::value& s, int depth) {
    row r;
    r.name = std::string(static_cast<size_t>(depth) * 2, ' ') + field(s, "name");
    r.actor = s.as_object().contains("actor") ? field(s, "actor") : "";
    auto attempt = number(s, "attempt");
    r.attempt = attempt > 1 ? "#" + std::to_string(attempt) : "";
    r.took = took(number(s, "duration_us"));
    auto from = static_cast<int>(number(s, "offset_us") * width / total);
    auto len = static_cast<int>(number(s, "duration_us") * width / total);
    from = std::clamp(from, 0, width - 1);
    len = std::clamp(len, 1, width - from);
    r.bar = "|" + std::string(static_cast<size_t>(from), ' ');
    for (int i = 0; i < len; ++i)
      r.bar += "\u2588";
    r.bar += std::string(static_cast<size_t>(width - from - len), ' ') + "|";
    r.error = field(s, "status") == "error";
    if (r.error)
      r.note = "error: " + field(s, "status_message");
    for (const auto& l : s.at("links").as_array())
      r.note += (r.note.empty() ? "" : "; ") + field(l, "type") + " " + field(l, "span_id");
    rows.push_back(std::move(r));
    for (const auto& c : s.at("children").as_array())
      walk(c, depth + 1);
  };
  for (const auto& r : body.at("roots").as_array())
    walk(r, 0);
  size_t name_w = 4, actor_w = 5;
  for (const auto& r : rows) {
    name_w = std::max(name_w, r.name.size());
    actor_w = std::max(actor_w, r.actor.size());
  }
  name_w = std::min<size_t>(name_w, 60);
  auto end = took(total);
  std::printf("%-*s  %-*s  %-3s  %9s  0%*s\n", static_cast<int>(name_w), "SPAN",
              static_cast<int>(actor_w), "ACTOR", "TRY", "TOOK", width + 1,
              end.c_str()); // the bar's scale: from the trace's start to its end
  for (const auto& r : rows) {
    auto name = r.name.size() > name_w ? r.name.substr(0, name_w - 1) + "~" : r.name;
    const char* on = colour && r.error ? "\x1b[31m" : "";
    const char* off = colour && r.error ? "\x1b[0m" : "";
    std::printf("%s%-*s  %-*s  %-3s  %9s  %s%s%s%s\n", on, static_cast<int>(name_w), name.c_str(),
                static_cast<int>(actor_w), r.actor.c_str(), r.attempt.c_str(), r.took.c_str(),
                r.bar.c_str(), r.note.empty() ? "" : "  ", r.note.c_str(), off);
  }
}

} // namespace

void add_trace_show(CLI::App& app, int& exit_code) {
  auto trace_id = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto actor = std::make_shared<std::string>();
  auto steps = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
    "trace", "Follow one request: its spans as a waterfall (or every step with --steps), by trace "
             "id or idempotency key");
  auto* id_opt = cmd->add_option("TRACE_ID", *trace_id,
                                 "32 hex digits (the trace id of a "
                                 "traceparent, a log line or a journal)");
  auto* key_opt = cmd->add_option("--key", *key, "The idempotency key the request was sent with");
  cmd->add_option("--actor", *actor, "The actor the keyed request was sent to (faster)")
    ->needs(key_opt);
  cmd->add_flag("--steps", *steps,
                "Every step as a table, with the events it journaled and the messages it sent");
  id_opt->excludes(key_opt);
  auto o = add_client_options(cmd);
  cmd->footer("The waterfall draws each span on the trace's time line: gaps between bars are time "
              "no step of the request ran (queued, waiting for a retry, or for an approval). "
              "--json prints the span tree (GET /api/v1/traces/ID), or the steps with --steps.");
  cmd->callback([o, trace_id, key, actor, steps, &exit_code] {
    if (trace_id->empty() && key->empty())
      throw CLI::ValidationError("give a TRACE_ID or --key IDEMPOTENCY_KEY");
    auto by_key = "/api/v1/traces?idempotency_key=" + percent_encode(*key)
                  + (actor->empty() ? "" : "&actor=" + percent_encode(*actor));
    if (*steps) {
      std::string path =
        trace_id->empty() ? by_key : "/api/v1/traces/" + percent_encode(*trace_id) + "/steps";
      exit_code = run_call(*o, "GET", path, "", print_steps);
      return;
    }
    auto id = *trace_id;
    if (id.empty()) {
      // The key names a message; its answer names the trace.
      auto a = call_node(*o, "GET", by_key, "");
      if (a.code != exit_ok) {
        exit_code = a.code;
        return;
      }
      id = field(a.body, "trace_id");
    }
    exit_code = run_call(*o, "GET", "/api/v1/traces/" + percent_encode(id), "", print_waterfall);
  });
}

} // namespace cairn::cli
