// SPDX-License-Identifier: Apache-2.0
// `cairn journal ID [--from SEQ] [--limit N] [--follow]`: an actor's
// journal (its audit trail), in order.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace {

namespace json = boost::json;

/// Events asked for per request (the node's maximum is 10,000).
constexpr uint64_t page_size = 100;

/// A column of the journal table: the event's member, its heading, and
/// whether it is shown even when no event has it.
struct journal_column {
  const char* key;
  const char* head;
  bool always;
};

// The node may add members to events (time, cause, trace, payload as JSON):
// each is shown when the events have it, in this order.
const std::vector<journal_column> columns{
  {"seq", "SEQ", true},         {"type", "TYPE", true},       {"size", "BYTES", true},
  {"time", "TIME", false},      {"time_ms", "TIME", false},   {"cause", "CAUSE", false},
  {"cause_id", "CAUSE", false}, {"trace_id", "TRACE", false}, {"payload", "PAYLOAD", false},
};

std::string payload_cell(const json::value& v) {
  auto text = v.is_string() ? std::string{v.as_string()} : json::serialize(v);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

std::string event_cell(const json::value& ev, const journal_column& c) {
  std::string key = c.key;
  if (key == "time" || key == "time_ms")
    return time_field(ev, c.key);
  if (key == "payload") {
    auto* p = ev.as_object().if_contains("payload");
    return p ? payload_cell(*p) : "-";
  }
  return field(ev, c.key);
}

/// How one run of the command prints: the table's columns are chosen by
/// the first events printed and kept for the rest (a follow stays aligned).
struct journal_printer {
  bool json = false;
  bool follow = false;
  std::vector<const journal_column*> chosen;
  std::vector<size_t> width;

  void choose(const json::array& events) {
    for (const auto& c : columns) {
      bool present = c.always;
      for (const auto& ev : events)
        present = present || (ev.is_object() && ev.as_object().contains(c.key));
      // time and time_ms (cause and cause_id) are one column: the first present.
      bool taken = std::any_of(chosen.begin(), chosen.end(), [&](const journal_column* x) {
        return std::string{x->head} == c.head;
      });
      if (present && !taken)
        chosen.push_back(&c);
    }
    width.assign(chosen.size(), 0);
    for (size_t i = 0; i < chosen.size(); ++i)
      width[i] = std::string{chosen[i]->head}.size();
    for (const auto& ev : events)
      for (size_t i = 0; i < chosen.size(); ++i)
        width[i] = std::max(width[i], event_cell(ev, *chosen[i]).size());
    // Room for larger sequence numbers later on.
    width[0] = std::max<size_t>(width[0], 3);
    print_row([&](size_t i) { return std::string{chosen[i]->head}; });
  }

  template <class Cell>
  void print_row(Cell cell_at) {
    std::string line;
    for (size_t i = 0; i < chosen.size(); ++i) {
      auto c = cell_at(i);
      line += c;
      if (i + 1 < chosen.size())
        line += std::string(width[i] > c.size() ? width[i] - c.size() + 2 : 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }

  void events(const json::array& evs) {
    if (evs.empty())
      return;
    if (json) {
      for (const auto& ev : evs)
        std::printf("%s\n", json::serialize(ev).c_str());
      return;
    }
    if (chosen.empty())
      choose(evs);
    for (const auto& ev : evs)
      print_row([&](size_t i) { return event_cell(ev, *chosen[i]); });
  }
};

} // namespace

void add_journal_show(CLI::App& app, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto from = std::make_shared<uint64_t>(1);
  auto limit = std::make_shared<uint64_t>(0);
  auto follow = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("journal", "Show an actor's journal (its audit trail), in order");
  cmd->add_option("ID", *id, "Actor id, kind/key")->required();
  cmd->add_option("--from", *from, "First sequence number")->capture_default_str();
  cmd->add_option("--limit", *limit, "Print at most N events (default: all)");
  cmd->add_flag("--follow,-f", *follow,
                "Keep printing new events until interrupted (an actor without events yet is "
                "waited for)");
  cmd->footer("--json prints one object {actor, events, next_from} with every event; with "
              "--follow, one event a line (JSON Lines), each once.");
  auto o = add_client_options(cmd);
  cmd->callback([o, id, from, limit, follow, &exit_code] {
    uint64_t next = *from;
    uint64_t printed = 0;
    journal_printer out{o->json, *follow, {}, {}};
    json::array all; // --json without --follow: one document at the end
    bool first = true;
    auto done = [&] { return *limit != 0 && printed >= *limit; };
    while (!done()) {
      auto want = *limit == 0 ? page_size : std::min(page_size, *limit - printed);
      auto path = "/api/v1/actors/" + percent_encode(*id) + "/journal?from=" + std::to_string(next)
                  + "&limit=" + std::to_string(want);
      auto a = call_node(*o, "GET", path);
      if (a.code != exit_ok) {
        exit_code = a.code;
        return;
      }
      auto* obj = a.body.if_object();
      auto* evs = obj ? obj->if_contains("events") : nullptr;
      if (!evs || !evs->is_array()) {
        std::fprintf(stderr, "cairn: the node's journal answer has no events\n");
        exit_code = exit_node_error;
        return;
      }
      auto& events = evs->as_array();
      if (first && events.empty() && !*follow) {
        // Nothing journaled: an actor the node does not know is an error,
        // not an empty table (the actor endpoint says which).
        auto actor = call_node(*o, "GET", "/api/v1/actors/" + percent_encode(*id));
        if (actor.code != exit_ok) {
          exit_code = actor.code;
          return;
        }
      }
      first = false;
      if (o->json && !*follow)
        for (const auto& ev : events)
          all.push_back(ev);
      else
        out.events(events);
      printed += events.size();
      if (auto* nf = obj->if_contains("next_from"); nf && nf->is_number())
        next = nf->to_number<uint64_t>();
      else if (auto* seq = events.empty() || !events.back().is_object()
                             ? nullptr
                             : events.back().as_object().if_contains("seq");
               seq && seq->is_number())
        next = seq->to_number<uint64_t>() + 1;
      std::fflush(stdout);
      if (events.size() < want) { // at the end of the journal
        if (!*follow)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds{500});
      }
    }
    if (o->json && !*follow) {
      json::object doc;
      doc["actor"] = *id;
      doc["events"] = std::move(all);
      doc["next_from"] = next;
      std::printf("%s\n", json::serialize(doc).c_str());
    } else if (!o->json && out.chosen.empty()) {
      out.choose({}); // an empty journal still gets its heading
    }
    exit_code = exit_ok;
  });
}

} // namespace cairn::cli
