// SPDX-License-Identifier: Apache-2.0
// The operator CLI against a live node: each command in table and --json
// form, and a clear failure when the node is down.
#include <algorithm>
#include <csignal>
#include <regex>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

struct cli_result {
  int code;
  std::string out;
};

cli_result cairn_cli(std::vector<std::string> args) {
  test::node_process p{std::move(args)};
  int code = p.wait(std::chrono::seconds{60});
  return {code, p.output()};
}

const std::string order = R"({"customer":"c3","sku":"sku-eggs","region":"west","quantity":1,)"
                          R"("amount_cents":700})";

struct node_fixture {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> node;
  std::string url;

  /// The demo's payment gateway never fails unless `extra` sets
  /// `--flaky-rate`: tests here wait for `notify`, which must not hang on a draw.
  explicit node_fixture(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"node",        "--data",        dir.sub("data"), "--http",
                                  "127.0.0.1:0", "--no-progress", "--log-level",   "warn"};
    if (std::find(extra.begin(), extra.end(), "--flaky-rate") == extra.end())
      extra.insert(extra.end(), {"--flaky-rate", "0"});
    args.insert(args.end(), extra.begin(), extra.end());
    node = std::make_unique<test::node_process>(args);
    REQUIRE(node->wait_for_output("cairn node ready"));
    url = "http://127.0.0.1:" + std::to_string(test::port_from_banner(node->output()));
  }

  cli_result run(std::vector<std::string> args) {
    args.push_back("--node");
    args.push_back(url);
    return cairn_cli(std::move(args));
  }
};

} // namespace

TEST_CASE("cairn send, journal and status work against a live node, as tables and as JSON",
          "[cli]") {
  node_fixture f;
  auto sent = f.run({"send", "order/o5", "demo.place_order/v1", order, "--idempotency-key", "k5"});
  REQUIRE(sent.code == 0);
  CHECK(sent.out.size() == 33); // the envelope id and a newline
  auto again = f.run({"send", "order/o5", "demo.place_order/v1", order, "--idempotency-key", "k5"});
  CHECK(again.out == sent.out); // deduplicated: the same envelope

  REQUIRE(test::eventually([&] {
    return f.run({"journal", "notify/c3"}).out.find("demo.stage_done/v1") != std::string::npos;
  }));
  auto table = f.run({"journal", "order/o5"});
  CHECK(table.code == 0);
  CHECK(table.out.rfind("SEQ  TYPE", 0) == 0);
  auto js = f.run({"journal", "order/o5", "--json"});
  CHECK(js.code == 0);
  CHECK(js.out.find("\"actor\":\"order/o5\"") != std::string::npos);

  auto status = f.run({"status"});
  CHECK(status.code == 0);
  CHECK(status.out.find("ready          true") != std::string::npos);
  CHECK(f.run({"status", "--json"}).out.find("\"totals\"") != std::string::npos);
  CHECK(f.run({"timers"}).out.rfind("DUE  ", 0) == 0);
}

TEST_CASE("cairn dlq lists, shows, redrives and discards dead letters", "[cli][dlq]") {
  node_fixture f{{"--flaky-rate", "1.0"}};
  REQUIRE(f.run({"send", "order/o6", "demo.place_order/v1", order}).code == 0);
  std::string list;
  REQUIRE(test::eventually([&] {
    list = f.run({"dlq", "list", "--kind", "payment"}).out;
    return list.find("payment/o6") != std::string::npos;
  }));
  auto line = list.substr(list.find('\n') + 1);
  auto id = line.substr(0, 32);
  auto shown = f.run({"dlq", "show", id});
  CHECK(shown.code == 0);
  CHECK(shown.out.find("payment gateway unavailable") != std::string::npos);
  CHECK(f.run({"dlq", "show", id, "--json"}).out.find("\"attempts\":4") != std::string::npos);
  auto redriven = f.run({"dlq", "redrive", id});
  CHECK(redriven.code == 0);
  CHECK(redriven.out == "redriven " + id + "\n");
  REQUIRE(test::eventually([&] { return f.run({"dlq", "show", id}).code == 0; })); // failed again
  CHECK(f.run({"dlq", "discard", id}).code == 0);
  auto gone = f.run({"dlq", "show", id});
  CHECK(gone.code == 1);
  CHECK(gone.out.find("not_found (HTTP 404)") != std::string::npos);
}

TEST_CASE("client commands fail clearly with exit code 3 when the node is unreachable",
          "[cli][errors]") {
  // A port nothing listens on: bind-and-close would race, so use a reserved one.
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"journal", "order/x"},
                                             {"dlq", "list"},
                                             {"timers"},
                                             {"send", "order/x", "t/v1", "{}"}}) {
    args.push_back("--node");
    args.push_back("http://127.0.0.1:1");
    auto r = cairn_cli(args);
    INFO(args.front());
    CHECK(r.code == 3);
    CHECK(r.out.find("cannot reach the node at http://127.0.0.1:1") != std::string::npos);
  }
}

TEST_CASE("every command has --help and bad arguments exit with code 2", "[cli]") {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"node", "--help"},
                                             {"status", "--help"},
                                             {"send", "--help"},
                                             {"journal", "--help"},
                                             {"timers", "--help"},
                                             {"dlq", "--help"},
                                             {"dlq", "list", "--help"},
                                             {"dlq", "redrive", "--help"}}) {
    auto r = cairn_cli(args);
    INFO(args.front());
    CHECK(r.code == 0);
    CHECK(r.out.find("Usage:") != std::string::npos);
  }
  CHECK(cairn_cli({"send", "only-one-arg"}).code == 2);
  CHECK(cairn_cli({"send", "order/x", "t/v1", "{not json", "--node", "http://127.0.0.1:1"}).code
        == 2);
}

TEST_CASE("the CLI passes its token, and says so when the node refuses it", "[cli][auth]") {
  node_fixture f{{"--token", "sekrit:read"}};
  auto denied = f.run({"status"});
  CHECK(denied.code == 1);
  CHECK(denied.out.find("unauthorized (HTTP 401)") != std::string::npos);
  CHECK(f.run({"status", "--token", "sekrit"}).code == 0);
  auto forbidden = f.run({"send", "order/o1", "demo.place_order/v1", order, "--token", "sekrit"});
  CHECK(forbidden.code == 1);
  CHECK(forbidden.out.find("forbidden (HTTP 403)") != std::string::npos);
}

TEST_CASE("cairn journal --follow prints events as they are journaled", "[cli]") {
  node_fixture f;
  // Started before the actor exists: following waits for its first event.
  test::node_process follower{{"journal", "order/o8", "--follow", "--node", f.url}};
  REQUIRE(f.run({"send", "order/o8", "demo.place_order/v1", order}).code == 0);
  REQUIRE(follower.wait_for_output("demo.hop_report/v1")); // the intake
  CHECK(follower.output().rfind("SEQ  TYPE", 0) == 0);
  CHECK(follower.running());
  follower.signal(SIGINT);
  CHECK(follower.wait() == 128 + SIGINT);
}

TEST_CASE("cairn actors, actor show and topics list what the node holds", "[cli]") {
  node_fixture f;
  REQUIRE(f.run({"send", "order/o7", "demo.place_order/v1", order}).code == 0);
  REQUIRE(test::eventually([&] {
    return f.run({"actors", "--kind", "notify"}).out.find("notify/c3") != std::string::npos
           && f.run({"actor", "show", "order/o7", "--json"}).out.find("\"status\":\"completed\"")
                != std::string::npos;
  }));
  auto actors = f.run({"actors"});
  CHECK(actors.code == 0);
  CHECK(actors.out.rfind("ID", 0) == 0);
  CHECK(actors.out.find("order/o7") != std::string::npos);
  CHECK(f.run({"actors", "--json"}).out.find("\"journal_length\":1") != std::string::npos);
  auto shown = f.run({"actor", "show", "order/o7"});
  CHECK(shown.code == 0);
  CHECK(shown.out.find("journal_length  5") != std::string::npos); // intake + four hop reports
  auto missing = f.run({"actor", "show", "order/none"});
  CHECK(missing.code == 1);
  CHECK(missing.out.find("not_found (HTTP 404)") != std::string::npos);
  auto topics = f.run({"topics"});
  CHECK(topics.code == 0);
  CHECK(topics.out.rfind("TOPIC", 0) == 0);
}

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

/// An order for customer `customer`, numbered `n`.
std::string order_for(const std::string& customer) {
  return R"({"customer":")" + customer
         + R"(","sku":"sku-eggs","region":"west","quantity":1,"amount_cents":700})";
}

} // namespace

TEST_CASE("cairn, cairn help and cairn --version list the commands and print the version",
          "[cli][help]") {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{}, {"help"}, {"--help"}}) {
    auto r = cairn_cli(args);
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("A subcommand is required") == std::string::npos);
    for (const char* command : {"node", "status", "send", "journal", "actors", "dlq", "mcp"})
      CHECK(r.out.find(std::string{"\n  "} + command + " ") != std::string::npos);
    CHECK(r.out.find("cairn help COMMAND") != std::string::npos);
  }
  auto version = cairn_cli({"--version"});
  CHECK(version.code == 0);
  CHECK(std::regex_match(version.out, std::regex{"cairn [0-9]+[.][0-9]+[.][0-9]+\n"}));
  auto group = cairn_cli({"dlq"}); // a group alone lists its commands, like `cairn`
  CHECK(group.code == 0);
  CHECK(group.out.find("redrive") != std::string::npos);
  auto one = cairn_cli({"help", "dlq", "list"});
  CHECK(one.code == 0);
  CHECK(one.out.find("Usage: cairn dlq list") != std::string::npos);
  CHECK(one.out.find("--since") != std::string::npos);
  auto unknown = cairn_cli({"help", "nosuch"});
  CHECK(unknown.code == 2);
  CHECK(unknown.out.find("no command 'nosuch'") != std::string::npos);
}

TEST_CASE("the options --node, --token and --json work before the command as well as after it",
          "[cli][options]") {
  node_fixture f{{"--token", "sekrit:read"}};
  auto before = cairn_cli({"--node", f.url, "--token", "sekrit", "status"});
  CHECK(before.code == 0);
  CHECK(before.out.find("ready          true") != std::string::npos);
  auto as_json = cairn_cli({"--json", "--node", f.url, "--token", "sekrit", "status"});
  CHECK(as_json.code == 0);
  CHECK(as_json.out.find("\"totals\"") != std::string::npos);
  auto mixed = cairn_cli({"--node", f.url, "status", "--token", "sekrit", "--json"});
  CHECK(mixed.code == 0);
  CHECK(mixed.out.find("\"totals\"") != std::string::npos);
}

TEST_CASE("a bad --node URL is a usage error (exit 2), not an unreachable node", "[cli][errors]") {
  for (std::string url : {"nonsense", "ftp://x", "http://", "http://127.0.0.1:99999",
                          "http://127.0.0.1:7x", "https://127.0.0.1:7070"}) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"status", "--node", url}, {"--node", url, "status"}}) {
      auto r = cairn_cli(args);
      INFO(url << ": " << r.out);
      CHECK(r.code == 2);
      CHECK(r.out.find("invalid --node URL '" + url + "'") != std::string::npos);
    }
  }
}

TEST_CASE("an unknown actor or kind is an error with its problem code said once", "[cli][errors]") {
  node_fixture f;
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"journal", "order/none"},
                                             {"journal", "order/none", "--json"},
                                             {"actor", "show", "nosuch/x"}}) {
    auto r = f.run(args);
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK(count_of(r.out, "not_found") == 1);
    CHECK(r.out.find("not_found (HTTP 404): no actor ") != std::string::npos);
    CHECK(r.out.find("SEQ") == std::string::npos); // no empty table
  }
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"journal", "nosuch/x"},
                                             {"actors", "--kind", "nosuch"},
                                             {"actors", "--kind", "nosuch", "--json"},
                                             {"dlq", "list", "--kind", "nosuch"},
                                             {"dlq", "discard", "--all", "--kind", "nosuch"}}) {
    auto r = f.run(args);
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK(count_of(r.out, "unknown_actor_kind") == 1);
    CHECK(r.out.find("no actor kind 'nosuch' (it has: ") != std::string::npos);
    CHECK(r.out.find("ID ") == std::string::npos); // no empty table
  }
  // A kind the node has, with nothing in it yet, is an empty table.
  auto none = f.run({"dlq", "list", "--kind", "payment"});
  CHECK(none.code == 0);
  CHECK(lines_of(none.out).size() == 1);
}

TEST_CASE("cairn journal --limit caps the rows and --json pages through the whole journal",
          "[cli][journal]") {
  node_fixture f{{"--flaky-rate", "0"}};
  auto port = test::port_from_banner(f.node->output());
  // 150 orders of one customer: notify/c9 journals one event for each, more
  // than one page of the node's journal answers.
  constexpr int orders = 150;
  for (int i = 0; i < orders; ++i) {
    auto body = R"({"type":"demo.place_order/v1","payload":)" + order_for("c9") + "}";
    REQUIRE(test::http_call(port, "POST",
                            "/api/v1/actors/order%2Fp" + std::to_string(i) + "/messages", body)
              .status
            == 202);
  }
  auto journal_length = [&] {
    auto r = test::http_call(port, "GET", "/api/v1/actors/notify%2Fc9");
    if (r.status != 200)
      return int64_t{0};
    return boost::json::parse(r.body).at("journal_length").to_number<int64_t>();
  };
  REQUIRE(test::eventually([&] { return journal_length() == orders; }));

  auto two = f.run({"journal", "notify/c9", "--limit", "2"});
  CHECK(two.code == 0);
  auto rows = lines_of(two.out);
  REQUIRE(rows.size() == 3); // the heading and two events
  CHECK(rows[0].rfind("SEQ  TYPE", 0) == 0);
  CHECK(rows[1].rfind("1  ", 0) == 0);
  CHECK(rows[2].rfind("2  ", 0) == 0);
  CHECK(lines_of(f.run({"journal", "notify/c9", "--from", "149", "--limit", "5"}).out).size() == 3);

  auto all = f.run({"journal", "notify/c9", "--json"});
  CHECK(all.code == 0);
  auto doc = boost::json::parse(all.out);
  const auto& events = doc.at("events").as_array();
  REQUIRE(events.size() == orders);
  for (size_t i = 0; i < events.size(); ++i)
    CHECK(events[i].at("seq").to_number<size_t>() == i + 1);
  CHECK(doc.at("next_from").to_number<int>() == orders + 1);
  CHECK(boost::json::parse(f.run({"journal", "notify/c9", "--json", "--limit", "3"}).out)
          .at("events")
          .as_array()
          .size()
        == 3);
}

TEST_CASE("cairn journal --json --follow prints each event exactly once, one a line",
          "[cli][journal]") {
  node_fixture f{{"--flaky-rate", "0"}};
  auto port = test::port_from_banner(f.node->output());
  auto place = [&](int i) {
    auto body = R"({"type":"demo.place_order/v1","payload":)" + order_for("c8") + "}";
    return test::http_call(port, "POST",
                           "/api/v1/actors/order%2Ff" + std::to_string(i) + "/messages", body)
      .status;
  };
  for (int i = 0; i < 120; ++i)
    REQUIRE(place(i) == 202);
  test::node_process follower{{"journal", "notify/c8", "--json", "--follow", "--node", f.url}};
  std::vector<std::string> lines;
  auto seqs_seen = [&] {
    lines = lines_of(follower.output());
    return lines.size();
  };
  REQUIRE(test::eventually([&] { return seqs_seen() >= 120; }));
  REQUIRE(place(120) == 202); // one more while following
  REQUIRE(follower.wait_for_output("\"seq\":121,"));
  follower.signal(SIGINT);
  follower.wait();
  lines = lines_of(follower.output());
  std::set<uint64_t> seen;
  for (const auto& line : lines) {
    auto ev = boost::json::parse(line);
    CHECK(seen.insert(ev.at("seq").to_number<uint64_t>()).second); // never twice
  }
  CHECK(seen.size() == 121);
  CHECK(*seen.rbegin() == 121);
}

TEST_CASE("cairn dlq list filters like the API and bulk redrive and discard need --yes",
          "[cli][dlq]") {
  node_fixture f{{"--flaky-rate", "1.0"}};
  for (const char* id : {"order/d1", "order/d2", "order/d3"})
    REQUIRE(f.run({"send", id, "demo.place_order/v1", order}).code == 0);
  auto rows_in = [&](const std::vector<std::string>& args) {
    auto r = f.run(args);
    return r.code == 0 ? lines_of(r.out).size() : 0;
  };
  REQUIRE(test::eventually([&] { return rows_in({"dlq", "list"}) == 4; })); // heading + 3

  auto listed = f.run({"dlq", "list", "--error", "gateway", "--since", "1h", "--kind", "payment"});
  CHECK(listed.code == 0);
  auto rows = lines_of(listed.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].find("FAILED") != std::string::npos);
  // Times for people in the table, raw milliseconds in --json.
  CHECK(std::regex_search(
    rows[1], std::regex{"  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  "}));
  CHECK(f.run({"dlq", "list", "--json"}).out.find("\"failed_ms\":") != std::string::npos);
  CHECK(rows_in({"dlq", "list", "--error", "no such error"}) == 1);
  CHECK(rows_in({"dlq", "list", "--until", "2000-01-01T00:00:00Z"}) == 1);
  CHECK(rows_in({"dlq", "list", "--kind", "inventory"}) == 1);
  auto bad_time = f.run({"dlq", "list", "--since", "yesterday"});
  CHECK(bad_time.code == 2);
  CHECK(bad_time.out.find("--since 'yesterday' is not a time") != std::string::npos);

  // Paging: --limit and the cursor the node hands back.
  auto first = f.run({"dlq", "list", "--limit", "2"});
  auto first_rows = lines_of(first.out);
  REQUIRE(first.out.find("--cursor ") != std::string::npos);
  auto cursor = first.out.substr(first.out.find("--cursor ") + 9, 32);
  CHECK(first_rows[2].rfind(cursor, 0) == 0);
  auto rest = lines_of(f.run({"dlq", "list", "--cursor", cursor}).out);
  REQUIRE(rest.size() == 2);
  CHECK(rest[1].find("payment/") != std::string::npos);

  // Bulk without --yes: nothing happens, and it says how many would be.
  auto refused = f.run({"dlq", "discard", "--all", "--kind", "payment"});
  CHECK(refused.code == 2);
  CHECK(refused.out.find("3 dead letters match; nothing done. Add --yes") != std::string::npos);
  CHECK(rows_in({"dlq", "list"}) == 4);
  auto none = f.run({"dlq", "redrive", "--all", "--error", "no such error", "--yes"});
  CHECK(none.code == 0);
  CHECK(none.out == "redriven 0 dead letters\n");
  auto both = f.run({"dlq", "redrive", cursor, "--all"});
  CHECK(both.code == 2);

  auto redriven = f.run({"dlq", "redrive", "--all", "--kind", "payment", "--yes"});
  CHECK(redriven.code == 0);
  CHECK(redriven.out == "redriven 3 dead letters\n");
  // They fail again (the gateway always fails here) and are dead letters again.
  REQUIRE(test::eventually([&] { return rows_in({"dlq", "list"}) == 4; }));
  auto discarded = f.run({"dlq", "discard", "--all", "--yes", "--json"});
  CHECK(discarded.code == 0);
  auto counts = boost::json::parse(discarded.out);
  CHECK(counts.at("discarded").to_number<int>() == 3);
  CHECK(counts.at("matched").to_number<int>() == 3);
  CHECK(rows_in({"dlq", "list"}) == 1);
}

TEST_CASE("cairn trace follows one order through every hop, by idempotency key or trace id",
          "[cli][trace]") {
  node_fixture f;
  REQUIRE(
    f.run({"send", "order/o21", "demo.place_order/v1", order, "--idempotency-key", "o21"}).code
    == 0);
  // The order is done once notify reported back to it.
  REQUIRE(test::eventually([&] {
    return f.run({"actor", "show", "order/o21"}).out.find("completed") != std::string::npos;
  }));
  auto by_key = f.run({"trace", "--key", "o21", "--steps"});
  INFO(by_key.out);
  REQUIRE(by_key.code == 0);
  CHECK(by_key.out.find("idempotency key o21") != std::string::npos);
  // Every hop's step, in order: each starts after the one that caused it.
  size_t at = 0;
  for (std::string actor :
       {"order/o21", "inventory/", "payment/o21", "dispatch/west", "notify/c3"}) {
    auto pos = by_key.out.find(actor, at);
    CHECK(pos != std::string::npos);
    if (pos != std::string::npos)
      at = pos;
  }
  CHECK(by_key.out.find("journaled") != std::string::npos);
  CHECK(by_key.out.find("\"stage\":\"payment\"") != std::string::npos);

  auto js = f.run({"trace", "--key", "o21", "--actor", "order/o21", "--json", "--steps"});
  REQUIRE(js.code == 0);
  auto body = json::parse(js.out);
  auto trace_id = std::string{body.at("trace_id").as_string()};
  CHECK(body.at("steps").as_array().size() >= 5);
  // The same steps by trace id.
  auto by_id = f.run({"trace", trace_id, "--json", "--steps"});
  REQUIRE(by_id.code == 0);
  CHECK(json::parse(by_id.out).at("steps") == body.at("steps"));

  // The waterfall: a row per span, each actor's step indented under the
  // step that caused it, a bar on the trace's time line, by id or by key.
  auto fall = f.run({"trace", trace_id});
  INFO(fall.out);
  REQUIRE(fall.code == 0);
  CHECK(fall.out.find("trace " + trace_id) != std::string::npos);
  CHECK(fall.out.find("process demo.place_order/v1") != std::string::npos);
  CHECK(fall.out.find("\u2588") != std::string::npos);
  at = 0;
  for (std::string actor : {"order/o21", "inventory/", "payment/o21", "dispatch/west"}) {
    auto pos = fall.out.find(actor, at);
    CHECK(pos != std::string::npos);
    if (pos != std::string::npos)
      at = pos;
  }
  auto count_steps = [](const json::value& node, auto& self) -> size_t {
    size_t n = 1;
    for (const auto& c : node.at("children").as_array())
      n += self(c, self);
    return n;
  };
  auto tree = f.run({"trace", "--key", "o21", "--json"});
  REQUIRE(tree.code == 0);
  auto t = json::parse(tree.out);
  CHECK(t.at("trace_id") == json::value(trace_id));
  size_t spans = 0;
  for (const auto& r : t.at("roots").as_array())
    spans += count_steps(r, count_steps);
  CHECK(spans == body.at("steps").as_array().size());
  CHECK(t.at("span_count").to_number<size_t>() == spans);
  // The first step is the only root: every later one descends from it.
  CHECK(t.at("roots").as_array().size() == 1);
  CHECK(f.run({"trace", "--key", "o21"}).out == fall.out);

  auto unknown = f.run({"trace", "ffffffffffffffffffffffffffffffff"});
  CHECK(unknown.code == 1);
  CHECK(unknown.out.find("not_found") != std::string::npos);
  CHECK(f.run({"trace", "--key", "nope"}).code == 1);
  CHECK(f.run({"trace", "not-hex"}).code == 1);
  CHECK(f.run({"trace"}).code == 2);
}

TEST_CASE("cairn send refuses a message its actor's kind does not accept, naming what is wrong",
          "[cli][typed]") {
  node_fixture f;
  auto bad = f.run({"send", "order/o31", "demo.place_order/v1", R"({"customer":5})"});
  INFO(bad.out);
  CHECK(bad.code == 1);
  CHECK(bad.out.find("invalid_payload") != std::string::npos);
  CHECK(bad.out.find("payload.customer") != std::string::npos);
  auto region = f.run({"send", "order/o31", "demo.place_order/v1",
                       R"({"customer":"c1","sku":"sku-milk","region":"eu"})"});
  CHECK(region.code == 1);
  CHECK(region.out.find("payload.region") != std::string::npos);
  auto unknown = f.run({"send", "order/o31", "demo.refund/v1", "{}"});
  CHECK(unknown.code == 1);
  CHECK(unknown.out.find("unknown_message_type") != std::string::npos);
  CHECK(unknown.out.find("demo.place_order/v1") != std::string::npos);
  // Nothing was stored for the refused sends.
  CHECK(f.run({"actor", "show", "order/o31"}).code == 1);
  // A hop takes its typed message as JSON too.
  auto typed = f.run({"send", "notify/c31", "demo.notify_customer/v1",
                      R"({"order_id":"o31","customer":"c31","sku":"sku-milk","region":"west",)"
                      R"("quantity":1,"amount_cents":100,"driver":"d1"})"});
  CHECK(typed.code == 0);
}
