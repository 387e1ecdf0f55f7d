// SPDX-License-Identifier: Apache-2.0
// The operator CLI against a live node: each command in table and --json
// form, and a clear failure when the node is down.
#include <algorithm>
#include <csignal>

#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

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
  CHECK(f.run({"timers"}).out.rfind("DUE_MS", 0) == 0);
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
  test::node_process follower{{"journal", "order/o8", "--follow", "--node", f.url}};
  REQUIRE(follower.wait_for_output("SEQ  TYPE"));
  REQUIRE(f.run({"send", "order/o8", "demo.place_order/v1", order}).code == 0);
  REQUIRE(follower.wait_for_output("1    demo.hop_report/v1")); // the intake
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
