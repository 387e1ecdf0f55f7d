// SPDX-License-Identifier: Apache-2.0
// The operator commands that talk to a node over its HTTP API.
#include "commands/client_command.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "client/node_client.hpp"

namespace cairn::cli {

namespace json = boost::json;

void add_client_options(CLI::App* cmd, client_options& o) {
  cmd->add_option("--node", o.node, "Node URL")->envname("CAIRN_NODE")->capture_default_str();
  cmd->add_option("--token", o.token, "Bearer token")->envname("CAIRN_TOKEN");
  cmd->add_flag("--json", o.json, "Print the node's JSON instead of a table");
}

int run_call(const client_options& o, const std::string& method, const std::string& path,
             const std::string& body, const std::function<void(const json::value&)>& table) {
  node_client client{o.node, o.token};
  auto r = client.call(method, path, body);
  if (r.status == 0) {
    std::fprintf(stderr, "cairn: %s\n  (is the node running? set --node or CAIRN_NODE)\n",
                 r.error.c_str());
    return exit_unreachable;
  }
  boost::system::error_code ec;
  auto v = r.body.empty() ? json::value{} : json::parse(r.body, ec);
  if (r.status >= 400) {
    if (!ec && v.is_object() && v.as_object().contains("code"))
      std::fprintf(stderr, "cairn: %s (HTTP %d): %s\n",
                   json::value_to<std::string>(v.at("code")).c_str(), r.status,
                   json::value_to<std::string>(v.at("detail")).c_str());
    else
      std::fprintf(stderr, "cairn: the node answered HTTP %d\n", r.status);
    return exit_node_error;
  }
  if (o.json) {
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    std::fputc('\n', stdout);
    return exit_ok;
  }
  if (ec) {
    std::fprintf(stderr, "cairn: the node's answer is not JSON: %s\n", ec.message().c_str());
    return exit_node_error;
  }
  table(v);
  return exit_ok;
}

namespace {

std::string str(const json::value& v) {
  if (v.is_string())
    return std::string{v.as_string()};
  if (v.is_null())
    return "-";
  return json::serialize(v);
}

std::string field(const json::value& v, const char* name) {
  if (!v.is_object())
    return "-";
  auto* f = v.as_object().if_contains(name);
  return f ? str(*f) : "-";
}

/// Prints rows with columns padded to their widest cell.
void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows, bool with_head = true) {
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i)
    width[i] = head[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size())
        out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  if (with_head)
    line(head);
  for (const auto& row : rows)
    line(row);
}

std::vector<std::vector<std::string>> rows_of(const json::value& v, const char* list,
                                              const std::vector<const char*>& fields) {
  std::vector<std::vector<std::string>> rows;
  if (!v.is_object() || !v.as_object().contains(list) || !v.at(list).is_array())
    return rows;
  for (const auto& item : v.at(list).as_array()) {
    std::vector<std::string> row;
    for (auto* f : fields)
      row.push_back(field(item, f));
    rows.push_back(std::move(row));
  }
  return rows;
}

} // namespace

void add_client_commands(CLI::App& app, int& exit_code) {
  // cairn status
  {
    auto o = std::make_shared<client_options>();
    auto* cmd = app.add_subcommand("status", "Show a node's identity, readiness and totals");
    add_client_options(cmd, *o);
    cmd->callback([o, &exit_code] {
      exit_code = run_call(*o, "GET", "/api/v1/status", "", [](const json::value& v) {
        std::printf("node           %s (version %s)\n", field(v, "node_id").c_str(),
                    field(v, "version").c_str());
        std::printf("ready          %s\n", field(v, "ready").c_str());
        std::printf("durability     %s\n", field(v, "durability").c_str());
        std::printf("uptime         %.0f s\n", v.at("uptime_s").to_number<double>());
        if (v.as_object().contains("totals"))
          for (const auto& [k, t] : v.at("totals").as_object())
            std::printf("%-15s%s\n", std::string{k}.c_str(), str(t).c_str());
      });
    });
  }
  // cairn send ID TYPE JSON
  {
    auto o = std::make_shared<client_options>();
    struct send_args {
      std::string id, type, payload, key;
    };
    auto a = std::make_shared<send_args>();
    auto* cmd =
      app.add_subcommand("send", "Send a JSON message to an actor; prints its envelope id "
                                 "once the node has persisted it");
    cmd->add_option("ID", a->id, "Actor id, kind/key")->required();
    cmd->add_option("TYPE", a->type, "Message type tag, e.g. demo.place_order/v1")->required();
    cmd->add_option("JSON", a->payload, "Message payload (JSON)")->required();
    cmd->add_option("--idempotency-key", a->key, "Send at most once per key (dedupe window)");
    add_client_options(cmd, *o);
    cmd->callback([o, a, &exit_code] {
      boost::system::error_code ec;
      auto payload = json::parse(a->payload, ec);
      if (ec) {
        std::fprintf(stderr, "cairn: JSON argument is not valid JSON: %s\n", ec.message().c_str());
        exit_code = exit_usage;
        return;
      }
      json::object body;
      body["type"] = a->type;
      body["payload"] = payload;
      if (!a->key.empty())
        body["idempotency_key"] = a->key;
      exit_code = run_call(
        *o, "POST", "/api/v1/actors/" + encode_segment(a->id) + "/messages", json::serialize(body),
        [](const json::value& v) { std::printf("%s\n", field(v, "id").c_str()); });
    });
  }
  // cairn journal ID [--from SEQ] [--limit N]
  {
    auto o = std::make_shared<client_options>();
    auto id = std::make_shared<std::string>();
    auto from = std::make_shared<uint64_t>(1);
    auto limit = std::make_shared<uint64_t>(100);
    auto follow = std::make_shared<bool>(false);
    auto* cmd =
      app.add_subcommand("journal", "Show an actor's journal (its audit trail), in order");
    cmd->add_option("ID", *id, "Actor id, kind/key")->required();
    cmd->add_option("--from", *from, "First sequence number")->capture_default_str();
    cmd->add_option("--limit", *limit, "Events per request")->capture_default_str();
    cmd->add_flag("--follow,-f", *follow, "Keep printing new events until interrupted");
    add_client_options(cmd, *o);
    cmd->callback([o, id, from, limit, follow, &exit_code] {
      uint64_t next = *from;
      bool header = true;
      for (;;) {
        auto path = "/api/v1/actors/" + encode_segment(*id)
                    + "/journal?from=" + std::to_string(next) + "&limit=" + std::to_string(*limit);
        size_t got = 0;
        exit_code = run_call(*o, "GET", path, "", [&](const json::value& v) {
          auto rows = rows_of(v, "events", {"seq", "type", "size"});
          got = rows.size();
          if (header || !rows.empty())
            print_table({"SEQ", "TYPE", "BYTES"}, rows, header);
          header = false;
          if (v.is_object() && v.as_object().contains("next_from"))
            next = v.at("next_from").to_number<uint64_t>();
        });
        std::fflush(stdout);
        if (exit_code != exit_ok)
          return;
        if (got < *limit) {
          if (!*follow)
            return;
          std::this_thread::sleep_for(std::chrono::milliseconds{500});
        }
      }
    });
  }
  // cairn actors [--kind K] [--limit N]
  {
    auto o = std::make_shared<client_options>();
    auto kind = std::make_shared<std::string>();
    auto limit = std::make_shared<uint64_t>(100);
    auto* cmd = app.add_subcommand("actors", "List actors with a journal or mail, by id");
    cmd->add_option("--kind", *kind, "Only this actor kind");
    cmd->add_option("--limit", *limit, "Actors to list")->capture_default_str();
    add_client_options(cmd, *o);
    cmd->callback([o, kind, limit, &exit_code] {
      auto path = "/api/v1/actors?limit=" + std::to_string(*limit)
                  + (kind->empty() ? "" : "&kind=" + encode_segment(*kind));
      exit_code = run_call(*o, "GET", path, "", [](const json::value& v) {
        print_table(
          {"ID", "ACTIVE", "MAILBOX", "JOURNAL", "LAST_ERROR"},
          rows_of(v, "actors", {"id", "active", "mailbox_depth", "journal_length", "last_error"}));
      });
    });
  }
  // cairn actor show ID
  {
    auto* actor = app.add_subcommand("actor", "Inspect one actor");
    actor->require_subcommand(1);
    auto o = std::make_shared<client_options>();
    auto id = std::make_shared<std::string>();
    auto* show = actor->add_subcommand("show", "Show an actor's state summary");
    show->add_option("ID", *id, "Actor id, kind/key")->required();
    add_client_options(show, *o);
    show->callback([o, id, &exit_code] {
      exit_code =
        run_call(*o, "GET", "/api/v1/actors/" + encode_segment(*id), "", [](const json::value& v) {
          for (const auto& [k, f] : v.as_object())
            std::printf("%-16s%s\n", std::string{k}.c_str(), str(f).c_str());
        });
    });
  }
  // cairn topics
  {
    auto o = std::make_shared<client_options>();
    auto* cmd = app.add_subcommand("topics", "List topics with their length and subscriptions");
    add_client_options(cmd, *o);
    cmd->callback([o, &exit_code] {
      exit_code = run_call(*o, "GET", "/api/v1/topics", "", [](const json::value& v) {
        print_table({"TOPIC", "EVENTS", "SUBSCRIPTIONS"},
                    rows_of(v, "topics", {"name", "events", "subscriptions"}));
      });
    });
  }
  // cairn timers
  {
    auto o = std::make_shared<client_options>();
    auto* cmd = app.add_subcommand("timers", "List durable timers, earliest first");
    add_client_options(cmd, *o);
    cmd->callback([o, &exit_code] {
      exit_code = run_call(*o, "GET", "/api/v1/timers", "", [](const json::value& v) {
        print_table({"DUE_MS", "TO", "TYPE"}, rows_of(v, "timers", {"due_ms", "to", "type"}));
      });
    });
  }
  // cairn dlq list|show|redrive|discard
  {
    auto* dlq = app.add_subcommand("dlq", "Inspect and act on dead letters");
    dlq->require_subcommand(1);
    auto o = std::make_shared<client_options>();
    auto kind = std::make_shared<std::string>();
    auto* list = dlq->add_subcommand("list", "List dead letters, oldest first");
    list->add_option("--kind", *kind, "Only this actor kind");
    add_client_options(list, *o);
    list->callback([o, kind, &exit_code] {
      auto path = "/api/v1/dead-letters" + (kind->empty() ? "" : "?kind=" + encode_segment(*kind));
      exit_code = run_call(*o, "GET", path, "", [](const json::value& v) {
        print_table({"ID", "TO", "TYPE", "ATTEMPTS", "ERROR"},
                    rows_of(v, "dead_letters", {"id", "to", "type", "attempts", "error"}));
      });
    });
    for (std::string verb : {"show", "redrive", "discard"}) {
      auto vo = std::make_shared<client_options>();
      auto id = std::make_shared<std::string>();
      auto* c = dlq->add_subcommand(verb, verb == "show"      ? "Show one dead letter in full"
                                          : verb == "redrive" ? "Put a dead letter back in its "
                                                                "actor's mailbox"
                                                              : "Delete a dead letter for good");
      c->add_option("ID", *id, "Dead letter id")->required();
      add_client_options(c, *vo);
      c->callback([vo, id, verb, &exit_code] {
        auto path = "/api/v1/dead-letters/" + encode_segment(*id);
        if (verb == "show")
          exit_code = run_call(*vo, "GET", path, "", [](const json::value& v) {
            for (const auto& [k, f] : v.as_object())
              std::printf("%-16s%s\n", std::string{k}.c_str(), str(f).c_str());
          });
        else if (verb == "redrive")
          exit_code = run_call(*vo, "POST", path + "/redrive", "", [id](const json::value&) {
            std::printf("redriven %s\n", id->c_str());
          });
        else
          exit_code = run_call(*vo, "DELETE", path, "", [id](const json::value&) {
            std::printf("discarded %s\n", id->c_str());
          });
      });
    }
  }
}

} // namespace cairn::cli
