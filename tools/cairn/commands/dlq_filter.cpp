// SPDX-License-Identifier: Apache-2.0
// The dead-letter filters and the bulk form of `cairn dlq redrive|discard`.
#include "commands/dlq_filter.hpp"

#include <cstdio>
#include <vector>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"

namespace cairn::cli {

namespace json = boost::json;

namespace {

/// Dead letters per list request while collecting (the node's maximum).
constexpr int list_page = 1'000;

/// Collects the ids of every dead letter matching `query` into `ids`;
/// returns the exit code (failures printed).
int matching_ids(const client_options& o, const std::string& query, std::vector<std::string>& ids) {
  std::string cursor;
  for (;;) {
    auto path = "/api/v1/dead-letters?limit=" + std::to_string(list_page)
                + (query.empty() ? "" : "&" + query)
                + (cursor.empty() ? "" : "&cursor=" + percent_encode(cursor));
    auto a = call_node(o, "GET", path);
    if (a.code != exit_ok)
      return a.code;
    auto* obj = a.body.if_object();
    auto* list = obj ? obj->if_contains("dead_letters") : nullptr;
    if (!list || !list->is_array()) {
      std::fprintf(stderr, "cairn: the node's dead-letter answer has no dead_letters\n");
      return exit_node_error;
    }
    for (const auto& dl : list->as_array())
      if (auto id = field(dl, "id"); id != "-")
        ids.push_back(id);
    auto* next = obj->if_contains("next_cursor");
    if (!next || !next->is_string() || next->as_string().empty())
      return exit_ok;
    cursor = std::string{next->as_string()};
  }
}

/// One dead letter redriven or discarded: exit_ok, or why not (404: already
/// gone, someone else acted on it first).
node_answer act_on(const client_options& o, dlq_action action, const std::string& id) {
  auto path = "/api/v1/dead-letters/" + percent_encode(id);
  return action == dlq_action::redrive ? call_node(o, "POST", path + "/redrive")
                                       : call_node(o, "DELETE", path);
}

int run_bulk(const client_options& o, dlq_action action, const dlq_filter& f, bool yes) {
  const char* verb = action == dlq_action::redrive ? "redrive" : "discard";
  const char* done_verb = action == dlq_action::redrive ? "redriven" : "discarded";
  std::string query, why;
  if (!dlq_query(f, query, why)) {
    std::fprintf(stderr, "cairn: %s\n", why.c_str());
    return exit_usage;
  }
  // The matching set is taken first, then acted on: a redriven letter that
  // fails again is a new dead letter, not one more to redrive in this run.
  std::vector<std::string> ids;
  if (auto code = matching_ids(o, query, ids); code != exit_ok)
    return code;
  if (ids.empty() && !f.kind.empty())
    if (auto code = check_kind(o, f.kind); code != exit_ok)
      return code;
  if (!yes) {
    std::fprintf(stderr, "cairn: %zu dead letter%s match%s; nothing done. Add --yes to %s %s.\n",
                 ids.size(), ids.size() == 1 ? "" : "s", ids.size() == 1 ? "es" : "", verb,
                 ids.size() == 1 ? "it" : "them");
    return exit_usage;
  }
  size_t done = 0, gone = 0;
  for (const auto& id : ids) {
    auto a = act_on(o, action, id);
    if (a.code == exit_node_error && a.status == 404) {
      ++gone; // acted on by someone else meanwhile (the error was printed)
      continue;
    }
    if (a.code != exit_ok) {
      std::fprintf(stderr, "cairn: stopped after %zu of %zu dead letters %s\n", done, ids.size(),
                   done_verb);
      return a.code;
    }
    ++done;
  }
  if (o.json) {
    json::object r;
    r[done_verb] = done;
    r["matched"] = ids.size();
    r["gone"] = gone;
    std::printf("%s\n", json::serialize(r).c_str());
  } else {
    std::printf("%s %zu dead letter%s", done_verb, done, done == 1 ? "" : "s");
    if (gone != 0)
      std::printf(" (%zu already gone)", gone);
    std::printf("\n");
  }
  return exit_ok;
}

} // namespace

void add_dlq_filter_options(CLI::App* cmd, dlq_filter& f) {
  cmd->add_option("--kind", f.kind, "Only dead letters to this actor kind");
  cmd->add_option("--error", f.error, "Only dead letters whose error contains this text");
  cmd->add_option("--since", f.since,
                  "Only those failed at or after: ms since the epoch, ISO-8601 UTC "
                  "(2026-12-01T18:00:00Z) or an age (30s, 15m, 2h, 7d)");
  cmd->add_option("--until", f.until, "Only those failed at or before (same forms as --since)");
}

bool dlq_query(const dlq_filter& f, std::string& query, std::string& why) {
  query.clear();
  auto add = [&](const char* name, const std::string& value) {
    query += (query.empty() ? "" : "&") + std::string{name} + "=" + percent_encode(value);
  };
  if (!f.kind.empty())
    add("kind", f.kind);
  if (!f.error.empty())
    add("error", f.error);
  for (auto [name, text] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
    if (text->empty())
      continue;
    auto ms = parse_time_arg(*text);
    if (!ms) {
      why = std::string{"--"} + name + " '" + *text
            + "' is not a time: give ms since the epoch, ISO-8601 UTC "
              "(2026-12-01T18:00:00Z) or an age (30s, 15m, 2h, 7d)";
      return false;
    }
    add(name, std::to_string(*ms));
  }
  return true;
}

void add_dlq_action(CLI::App* cmd, dlq_action action, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto yes = std::make_shared<bool>(false);
  auto f = std::make_shared<dlq_filter>();
  const char* verb = action == dlq_action::redrive ? "redrive" : "discard";
  cmd->add_option("ID", *id, "Dead letter id (or --all with filters)");
  cmd->add_flag("--all", *all,
                std::string{"Every dead letter matching the filters (none: all of them); "
                            "without --yes only counts them"});
  cmd->add_flag("--yes,-y", *yes, std::string{"Confirm: really "} + verb + " them all");
  add_dlq_filter_options(cmd, *f);
  auto o = add_client_options(cmd);
  cmd->footer(std::string{"cairn dlq "} + verb + " ID | cairn dlq " + verb
              + " --all [--kind K] [--error TEXT] [--since T] [--until T] --yes");
  cmd->callback([o, id, all, yes, f, action, &exit_code] {
    bool filtered = !f->kind.empty() || !f->error.empty() || !f->since.empty() || !f->until.empty();
    if (id->empty() == !*all) {
      std::fprintf(stderr, "cairn: %s\n",
                   id->empty() ? "give a dead letter ID, or --all (with filters) for many"
                               : "give a dead letter ID or --all, not both");
      exit_code = exit_usage;
      return;
    }
    if (!id->empty() && (filtered || *yes)) {
      std::fprintf(stderr, "cairn: --kind, --error, --since, --until and --yes go with --all\n");
      exit_code = exit_usage;
      return;
    }
    if (*all) {
      exit_code = run_bulk(*o, action, *f, *yes);
      return;
    }
    auto a = act_on(*o, action, *id);
    exit_code = a.code;
    if (a.code != exit_ok)
      return;
    if (o->json)
      std::printf("%s\n", a.raw.empty() ? "{}" : a.raw.c_str());
    else
      std::printf("%s %s\n", action == dlq_action::redrive ? "redriven" : "discarded", id->c_str());
  });
}

} // namespace cairn::cli
