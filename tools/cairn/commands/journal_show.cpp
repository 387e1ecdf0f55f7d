// SPDX-License-Identifier: Apache-2.0
// `cairn journal ID [--from SEQ] [--limit N] [--follow]`: an actor's
// journal (its audit trail), in order.
#include <algorithm>
#include <cctype>
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

/// A column of the journal table: the event's member and its heading.
struct journal_column {
  std::string key;
  std::string head;
};

// Always shown, in this order; then, when the events have them (the node may
// add members: time, cause, trace, the payload as JSON), these; then any
// other member, headed by its name; the payload last.
const std::vector<journal_column> always{{"seq", "SEQ"}, {"type", "TYPE"}, {"size", "BYTES"}};
const std::vector<journal_column> known{{"time", "TIME"},      {"time_ms", "TIME"},
                                        {"cause", "CAUSE"},    {"cause_id", "CAUSE"},
                                        {"trace_id", "TRACE"}, {"span_id", "SPAN"}};
// Not a column: the raw bytes (BYTES has their size; --json has them).
const std::vector<std::string> hidden{"payload_base64", "payload"};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string payload_cell(const json::value& v) {
  auto text = v.is_string() ? std::string{v.as_string()} : json::serialize(v);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

std::string event_cell(const json::value& ev, const journal_column& c) {
  auto* o = ev.if_object();
  auto* v = o ? o->if_contains(c.key) : nullptr;
  if (!v)
    return "-";
  if ((c.key == "time" || ends_with(c.key, "_ms")) && v->is_number())
    return time_field(ev, c.key.c_str()); // milliseconds since the epoch, for people
  if (c.key == "payload")
    return payload_cell(*v);
  if (v->is_object() || v->is_array())
    return payload_cell(*v);
  return cell(*v);
}

/// How one run of the command prints: the table's columns are chosen by
/// the first events printed and kept for the rest (a follow stays aligned).
struct journal_printer {
  bool json = false;
  std::vector<journal_column> chosen;
  std::vector<size_t> width;

  bool has(const std::string& key) const {
    return std::any_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.key == key; });
  }
  bool has_head(const std::string& head) const {
    return std::any_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.head == head; });
  }

  void choose(const json::array& events) {
    auto present = [&](const std::string& key) {
      return std::any_of(events.begin(), events.end(), [&](const json::value& ev) {
        return ev.is_object() && ev.as_object().contains(key);
      });
    };
    chosen = always;
    for (const auto& c : known) // time and time_ms (cause, cause_id): one column
      if (present(c.key) && !has_head(c.head))
        chosen.push_back(c);
    for (const auto& ev : events) {
      if (!ev.is_object())
        continue;
      for (const auto& [k, v] : ev.as_object()) {
        std::string key{k};
        bool skip =
          has(key) || std::find(hidden.begin(), hidden.end(), key) != hidden.end()
          || std::any_of(known.begin(), known.end(), [&](const auto& c) { return c.key == key; });
        if (skip)
          continue;
        std::string head = ends_with(key, "_ms") ? key.substr(0, key.size() - 3) : key;
        std::transform(head.begin(), head.end(), head.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
        chosen.push_back({key, head});
      }
    }
    if (present("payload"))
      chosen.push_back({"payload", "PAYLOAD"});
    width.assign(chosen.size(), 0);
    for (size_t i = 0; i < chosen.size(); ++i)
      width[i] = chosen[i].head.size();
    for (const auto& ev : events)
      for (size_t i = 0; i < chosen.size(); ++i)
        width[i] = std::max(width[i], event_cell(ev, chosen[i]).size());
    // Room for larger sequence numbers later on.
    width[0] = std::max<size_t>(width[0], 3);
    print_row([&](size_t i) { return chosen[i].head; });
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
      print_row([&](size_t i) { return event_cell(ev, chosen[i]); });
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
    journal_printer out{o->json, {}, {}};
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
        // not an empty table (its kind, or the actor endpoint, says which).
        if (auto code = check_kind(*o, id->substr(0, id->find('/'))); code != exit_ok) {
          exit_code = code;
          return;
        }
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
