// SPDX-License-Identifier: Apache-2.0
// The node's HTTP API against a real `cairn node` process over real HTTP:
// health and metrics, messages and batches flowing through the workers,
// malformed requests, dead letters, what survives a SIGKILL, the listings.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/storage.hpp"
#include "http_client.hpp"
#include "http_node.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::http_api;
namespace json = boost::json;

TEST_CASE("health, readiness, status and metrics answer on a live node", "[http]") {
  live_node node;
  auto health = node.get("/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK(node.get("/readyz").status == 200);
  auto status = node.get("/api/v1/status");
  CHECK(status.status == 200);
  CHECK(status.header("content-type") == "application/json");
  CHECK(status.body.find("\"ready\":true") != std::string::npos);
  auto metrics = node.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("content-type").rfind("text/plain", 0) == 0);
  CHECK(metrics.body.find("# TYPE cairn_processed_total counter") != std::string::npos);
  CHECK(metrics.body.find("# TYPE cairn_mailbox_rows_unwritten_total counter")
        != std::string::npos);
  CHECK(status.body.find("\"mailbox_rows_unwritten\":") != std::string::npos);
  CHECK(metrics.body.find("# TYPE cairn_mailbox_rows_carried_total counter") != std::string::npos);
  CHECK(status.body.find("\"mailbox_rows_carried\":") != std::string::npos);
  CHECK(metrics.body.find("# TYPE cairn_mailbox_rows_read_total counter") != std::string::npos);
  CHECK(status.body.find("\"mailbox_rows_read\":") != std::string::npos);
  CHECK(metrics.body.find("cairn_mailbox_depth ") != std::string::npos);
}

TEST_CASE("a JSON order posted over HTTP gets 202 and flows through every worker", "[http]") {
  live_node node;
  auto r = node.post("/api/v1/actors/order%2Fo42/messages", order_json);
  REQUIRE(r.status == 202);
  CHECK(r.body.find("\"id\":\"") != std::string::npos);
  // intake -> inventory -> payment -> dispatch -> notify, each hop reporting
  // back to the order: completed once notify's report is in.
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fo42"); }));
  CHECK(node.journal_length("order%2Fo42") == 5); // intake + four hop reports
  CHECK(node.journal_length("inventory%2Fsku-milk") == 1);
  CHECK(node.journal_length("payment%2Fo42") == 1);
  CHECK(node.journal_length("notify%2Fc7") == 1);
}

namespace {

/// One message of a batch: `order_json` for `to`, with a key if given.
std::string batch_order(const std::string& to, const std::string& key = {}) {
  auto m = json::parse(order_json).as_object();
  m["to"] = to;
  if (!key.empty())
    m["idempotency_key"] = key;
  return json::serialize(m);
}

} // namespace

TEST_CASE("a batch is persisted in one answer with an id or a problem for each message",
          "[http][batch]") {
  live_node node;
  auto body = "[" + batch_order("order/b1") + "," + batch_order("order/b2", "same") + ","
              + R"({"to":"order/b3","type":"no.such/v1","payload":{}},)"
              + R"({"to":"not-an-actor","type":"demo.place_order/v1","payload":{}},)"
              + batch_order("order/b2", "same") + "," + R"(7)" + "]";
  auto r = node.post("/api/v1/messages:batch", body);
  auto o = json_of(r);
  CHECK(r.status == 202);
  CHECK(o.at("accepted") == json::value(3));
  CHECK(o.at("refused") == json::value(3));
  // The counts come first, in this order: a client may stop reading there
  // when they say every message was taken (`cairn bench` does).
  CHECK(r.body.rfind(R"({"accepted":3,"refused":3,"results":[)", 0) == 0);
  auto& results = o.at("results").as_array();
  REQUIRE(results.size() == 6);
  CHECK(results[0].as_object().contains("id"));
  CHECK(results[0].at("duplicate") == json::value(false));
  CHECK(results[2].at("status") == json::value(400));
  CHECK(results[2].at("code") == json::value("unknown_message_type"));
  CHECK(results[3].at("code") == json::value("invalid_argument"));
  // The same key twice in one batch: stored once, both answered with its id.
  CHECK(results[4].at("duplicate") == json::value(true));
  CHECK(results[4].at("id") == results[1].at("id"));
  CHECK(results[5].at("code") == json::value("invalid_body"));
  // Every message the answer took went its way: both orders complete, and
  // the repeated one ran once.
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fb1"); }));
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fb2"); }));
  CHECK(node.journal_length("order%2Fb2") == 5);
  CHECK(node.get("/api/v1/actors/order%2Fb3").status == 404);
  // Sent again later: the key is still claimed.
  auto again =
    json_of(node.post("/api/v1/messages:batch", "[" + batch_order("order/b2", "same") + "]"));
  CHECK(again.at("results").at(0).at("duplicate") == json::value(true));
  CHECK(again.at("results").at(0).at("id") == results[1].at("id"));
}

TEST_CASE("a batch as NDJSON answers per line, and a batch nothing of which is taken is refused",
          "[http][batch]") {
  live_node node;
  auto r = node.post("/api/v1/messages:batch",
                     batch_order("order/n1") + "\n{not json\n\n" + batch_order("order/n2") + "\n",
                     {"Content-Type: application/x-ndjson"});
  auto o = json_of(r);
  CHECK(r.status == 202);
  auto& results = o.at("results").as_array();
  REQUIRE(results.size() == 3);
  CHECK(results[0].as_object().contains("id"));
  CHECK(results[1].at("code") == json::value("malformed_json"));
  CHECK(results[1].at("detail").as_string().find("line 2") != json::string::npos);
  CHECK(results[2].as_object().contains("id"));
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fn2"); }));
  // Nothing taken: the first refusal's status, with the results.
  auto none = node.post("/api/v1/messages:batch", R"([{"to":"order/x","type":"no.such/v1"}])");
  CHECK(none.status == 400);
  CHECK(json_of(none).at("accepted") == json::value(0));
  // The batch itself malformed: one problem, nothing persisted.
  CHECK(node.post("/api/v1/messages:batch", "[").status == 400);
  CHECK(node.post("/api/v1/messages:batch", R"({"to":"order/x"})").status == 400);
  CHECK(node.post("/api/v1/messages:batch", "[]").status == 400);
  CHECK(node.post("/api/v1/messages:batch", "[]", {"Content-Type: text/plain"}).status == 415);
  CHECK(node.get("/api/v1/messages:batch").status == 405);
  std::string many = "[";
  for (int k = 0; k < 1001; ++k)
    many += (k ? "," : "") + batch_order("order/m" + std::to_string(k));
  many += "]";
  auto big = node.post("/api/v1/messages:batch", many);
  CHECK(big.status == 413);
  CHECK(big.body.find("too_many_messages") != std::string::npos);
  CHECK(node.get("/api/v1/actors/order%2Fm0").status == 404);
}

TEST_CASE("malformed requests get the specified problem and the node keeps serving",
          "[http][malformed]") {
  live_node node;
  auto truncated = node.post("/api/v1/actors/order%2Fo1/messages", R"({"type": "demo.pl)");
  CHECK(truncated.status == 400);
  CHECK(truncated.header("content-type") == "application/problem+json");
  CHECK(truncated.body.find("\"code\":\"malformed_json\"") != std::string::npos);
  CHECK(truncated.body.find("at byte") != std::string::npos);

  auto not_object = node.post("/api/v1/actors/order%2Fo1/messages", "[1,2]");
  CHECK(not_object.status == 400);
  CHECK(not_object.body.find("\"code\":\"invalid_body\"") != std::string::npos);

  auto wrong_type = node.post("/api/v1/actors/order%2Fo1/messages", R"({"type": 5})");
  CHECK(wrong_type.status == 400);

  auto media =
    node.post("/api/v1/actors/order%2Fo1/messages", order_json, {"Content-Type: text/plain"});
  CHECK(media.status == 415);
  CHECK(media.body.find("\"code\":\"unsupported_media_type\"") != std::string::npos);

  auto huge = node.post("/api/v1/actors/order%2Fo1/messages", std::string(2 << 20, 'x'));
  CHECK(huge.status == 413);
  CHECK(huge.body.find("\"code\":\"payload_too_large\"") != std::string::npos);

  auto unknown_kind = node.post("/api/v1/actors/nosuch%2F1/messages", order_json);
  CHECK(unknown_kind.status == 404);
  CHECK(unknown_kind.body.find("\"code\":\"unknown_actor_kind\"") != std::string::npos);

  auto bad_id = node.post("/api/v1/actors/noslash/messages", order_json);
  CHECK(bad_id.status == 400);

  auto unknown_path = node.get("/api/v1/nothing-here");
  CHECK(unknown_path.status == 404);

  auto wrong_method = test::http_call(node.port, "PUT", "/api/v1/status");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.header("allow") == "GET");

  auto bad_param = node.get("/api/v1/dead-letters?limit=lots");
  CHECK(bad_param.status == 400);
  CHECK(bad_param.body.find("\"code\":\"invalid_parameter\"") != std::string::npos);

  auto garbage = test::raw_exchange(node.port, "THIS IS NOT HTTP\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);

  CHECK(node.get("/healthz").status == 200);
  CHECK(node.proc->running());
}

TEST_CASE("dead letters are listed, shown, redriven and discarded over HTTP", "[http][dlq]") {
  live_node node{{"--flaky-rate", "1.0"}};
  REQUIRE(node.post("/api/v1/actors/order%2Fd1/messages", order_json).status == 202);
  REQUIRE(node.post("/api/v1/actors/order%2Fd2/messages", order_json).status == 202);
  std::string list;
  REQUIRE(test::eventually([&] {
    list = node.get("/api/v1/dead-letters?kind=payment").body;
    return list.find("\"to\":\"payment/d1\"") != std::string::npos
           && list.find("\"to\":\"payment/d2\"") != std::string::npos;
  }));
  auto id_at = [&](const std::string& to) {
    auto pos = list.rfind("\"id\":\"", list.find("\"to\":\"" + to + "\""));
    return list.substr(pos + 6, 32);
  };
  auto d1 = id_at("payment/d1"), d2 = id_at("payment/d2");
  auto shown = node.get("/api/v1/dead-letters/" + d1);
  CHECK(shown.status == 200);
  CHECK(shown.body.find("\"attempts\":4") != std::string::npos);
  CHECK(shown.body.find("payment gateway unavailable") != std::string::npos);
  CHECK(node.get("/api/v1/dead-letters?kind=order").body.find("\"dead_letters\":[]")
        != std::string::npos);
  CHECK(node.get("/api/v1/dead-letters?error=gateway").body.find(d1) != std::string::npos);
  CHECK(node.get("/api/v1/dead-letters?error=no-such-error").body.find(d1) == std::string::npos);
  CHECK(node.get("/api/v1/dead-letters?since=99999999999999").body.find(d1) == std::string::npos);

  auto discarded = test::http_call(node.port, "DELETE", "/api/v1/dead-letters/" + d1);
  CHECK(discarded.status == 204);
  CHECK(node.get("/api/v1/dead-letters/" + d1).status == 404);
  CHECK(test::http_call(node.port, "DELETE", "/api/v1/dead-letters/" + d1).status == 404);

  auto redriven = node.post("/api/v1/dead-letters/" + d2 + "/redrive", "");
  CHECK(redriven.status == 200);
  CHECK(node.get("/api/v1/dead-letters/" + d2).status == 404); // back in the mailbox
  CHECK(node.post("/api/v1/dead-letters/" + d1 + "/redrive", "").status == 404);
}

TEST_CASE("a message answered 202 survives a SIGKILL of the node before it is processed",
          "[http][crash][invariant1]") {
  live_node node{{"--max-active", "0"}}; // accepting works, nothing runs
  auto r = node.post("/api/v1/actors/order%2Fk1/messages", order_json);
  REQUIRE(r.status == 202);
  CHECK(node.get("/api/v1/status").body.find("\"pending\":1") != std::string::npos);
  node.proc->signal(SIGKILL);
  REQUIRE(node.proc->wait() == 128 + SIGKILL);
  node.start();
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fk1"); }));
  CHECK(node.journal_length("order%2Fk1") == 5); // placed once: intake + four hop reports
  CHECK(node.journal_length("notify%2Fc7") == 1);
}

TEST_CASE("actors, topics and timers are listed and described over HTTP", "[http]") {
  live_node node;
  REQUIRE(node.post("/api/v1/actors/order%2Fa1/messages", order_json).status == 202);
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fa1"); }));
  auto list = node.get("/api/v1/actors?kind=order");
  CHECK(list.status == 200);
  CHECK(list.body.find("\"id\":\"order/a1\"") != std::string::npos);
  CHECK(list.body.find("notify/") == std::string::npos); // filtered by kind
  auto page = node.get("/api/v1/actors?limit=2");
  CHECK(page.body.find("\"next_cursor\":\"") != std::string::npos);
  auto one = node.get("/api/v1/actors/order%2Fa1");
  CHECK(one.status == 200);
  CHECK(one.body.find("\"journal_length\":5") != std::string::npos);
  CHECK(one.body.find("\"state\":{\"stage\":\"notify\",\"status\":\"completed\",\"repeated\":0,")
        != std::string::npos);
  CHECK(node.get("/api/v1/actors/order%2Fnobody").status == 404);
  CHECK(node.get("/api/v1/topics/none/subscriptions").status == 404);
  // Listing a timer and a topic (seen listed, then the timer gone) needs an
  // actor that sets timers and publishes: runtime_test.cpp, "[http][timer][topic]".
}

TEST_CASE("/metrics passes promtool check metrics", "[http][metrics]") {
  // Synced commits with a small spare: the log the open started is on it.
  live_node node{{"--durability", "fsync", "--wal-spare-mb", "1"}};
  REQUIRE(node.post("/api/v1/actors/order%2Fm1/messages", order_json).status == 202);
  REQUIRE(test::eventually([&] { return node.order_completed("order%2Fm1"); }));
  auto metrics = node.get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("cairn_kind_accepted_total{kind=\"order\"} 1") != std::string::npos);
  CHECK(metrics.body.find("# TYPE cairn_commit_latency_seconds histogram") != std::string::npos);
  CHECK(metrics.body.find("cairn_commit_batch_size_bucket{le=\"+Inf\"}") != std::string::npos);
  CHECK(metrics.body.find("cairn_rocksdb_estimate_pending_compaction_bytes") != std::string::npos);
  CHECK(std::regex_search(metrics.body, std::regex{"\ncairn_wal_logs_on_spare_total [1-9]"}));
  test::temp_dir dir;
  auto file = dir.sub("metrics.txt");
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fwrite(metrics.body.data(), 1, metrics.body.size(), f);
    std::fclose(f);
  }
  auto cmd = "promtool check metrics < " + file + " > " + dir.sub("out.txt") + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::string out;
  if (std::FILE* f = std::fopen(dir.sub("out.txt").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      out.append(buf, n);
    std::fclose(f);
  }
  INFO("promtool: " << out);
  CHECK(rc == 0);
}

TEST_CASE("a client that sends its headers too slowly is cut off and the node keeps serving",
          "[http][malformed]") {
  live_node node{{"--http-read-timeout", "1"}};
  // Half a request, then silence: the node must close the connection itself.
  auto answer = test::raw_exchange(node.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 30'000);
  CHECK(answer.empty());
  CHECK(node.get("/healthz").status == 200);
}
