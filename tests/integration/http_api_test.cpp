// SPDX-License-Identifier: Apache-2.0
// The node's HTTP API against a real `cairn node` process over real HTTP.
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
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

json::object json_of(const test::http_reply& r) {
  INFO(r.status << " " << r.body);
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.as_object();
}

/// A number in exponent form (`3.5E1`, `5e-05`) anywhere in `text`.
bool has_exponent_number(const std::string& text) {
  static const std::regex exponent{R"((^|[\s:,\[{])-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+)"};
  return std::regex_search(text, exponent);
}

const std::string order_json =
  R"({"type":"demo.place_order/v1","payload":{"customer":"c7","sku":"sku-milk",)"
  R"("region":"north","quantity":2,"amount_cents":1200}})";

struct live_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;

  explicit live_node(std::vector<std::string> extra = {}) { start(std::move(extra)); }

  /// Starts the node; the demo's payment gateway never fails unless `extra`
  /// sets `--flaky-rate` (a test waiting for `notify` must not depend on a draw).
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"node",        "--data",        dir.sub("data"), "--http",
                                  "127.0.0.1:0", "--no-progress", "--log-level",   "warn"};
    if (std::find(extra.begin(), extra.end(), "--flaky-rate") == extra.end())
      extra.insert(extra.end(), {"--flaky-rate", "0"});
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
    REQUIRE(port != 0);
  }

  test::http_reply get(const std::string& target) { return test::http_call(port, "GET", target); }
  test::http_reply post(const std::string& target, const std::string& body,
                        std::vector<std::string> headers = {"Content-Type: application/json"}) {
    return test::http_call(port, "POST", target, body, headers);
  }

  /// Whether the order's state says every hop reported and notify was last.
  bool order_completed(const std::string& encoded_id) {
    return get("/api/v1/actors/" + encoded_id).body.find("\"status\":\"completed\"")
           != std::string::npos;
  }

  size_t journal_length(const std::string& encoded_id) {
    auto r = get("/api/v1/actors/" + encoded_id + "/journal");
    if (r.status != 200)
      return 0;
    size_t n = 0;
    for (auto pos = r.body.find("\"seq\""); pos != std::string::npos;
         pos = r.body.find("\"seq\"", pos + 1))
      ++n;
    return n;
  }
};

} // namespace

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

TEST_CASE("bearer tokens and scopes guard the API, health stays open", "[http][auth]") {
  live_node node{{"--token", "r0:read", "--token", "w0:write", "--token", "a0:admin"}};
  auto as = [&](const std::string& token, const std::string& method, const std::string& target,
                const std::string& body = {}) {
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (!token.empty())
      headers.push_back("Authorization: Bearer " + token);
    return test::http_call(node.port, method, target, body, headers);
  };
  CHECK(node.get("/healthz").status == 200);
  CHECK(node.get("/readyz").status == 200);
  auto anonymous = node.get("/api/v1/status");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.header("www-authenticate").rfind("Bearer", 0) == 0);
  CHECK(node.get("/metrics").status == 401);
  CHECK(as("nope", "GET", "/api/v1/status").status == 401);

  CHECK(as("r0", "GET", "/api/v1/status").status == 200);
  auto read_post = as("r0", "POST", "/api/v1/actors/order%2Fz1/messages", order_json);
  CHECK(read_post.status == 403);
  CHECK(read_post.body.find("lacks the 'write' scope") != std::string::npos);

  CHECK(as("w0", "POST", "/api/v1/actors/order%2Fz1/messages", order_json).status == 202);
  CHECK(as("w0", "GET", "/api/v1/dead-letters").status == 200);
  CHECK(as("w0", "DELETE", "/api/v1/dead-letters/x").status == 403);
  CHECK(as("a0", "DELETE", "/api/v1/dead-letters/x").status == 404); // allowed, not found
}

TEST_CASE("a node refuses to serve a non-loopback address without tokens", "[http][auth]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--http", "0.0.0.0:0"}};
  CHECK(node.wait() == 2);
  CHECK(node.output().find("refusing to serve the API without authentication")
        != std::string::npos);
}

TEST_CASE("over the pending cap the API answers 429 with Retry-After and loses nothing",
          "[http][backpressure]") {
  live_node node{{"--max-active", "0", "--max-pending", "3"}}; // nothing drains
  for (int i = 0; i < 3; ++i)
    REQUIRE(
      node.post("/api/v1/actors/order%2Fb" + std::to_string(i) + "/messages", order_json).status
      == 202);
  auto busy = node.post("/api/v1/actors/order%2Fb3/messages", order_json);
  CHECK(busy.status == 429);
  CHECK(busy.header("retry-after") == "1");
  CHECK(busy.body.find("\"code\":\"busy\"") != std::string::npos);
  CHECK(node.get("/api/v1/status").body.find("\"pending\":3") != std::string::npos);
}

TEST_CASE("too many or too large headers get 431 and the node keeps serving", "[http][malformed]") {
  live_node node;
  std::vector<std::string> many;
  for (int i = 0; i < 150; ++i)
    many.push_back("X-Filler-" + std::to_string(i) + ": 1");
  auto count = test::http_call(node.port, "GET", "/healthz", "", many);
  CHECK(count.status == 431);
  CHECK(count.body.find("more than 100 header fields") != std::string::npos);
  auto size =
    test::http_call(node.port, "GET", "/healthz", "", {"X-Big: " + std::string(20'000, 'a')});
  CHECK(size.status == 431);
  CHECK(node.get("/healthz").status == 200);
}

TEST_CASE("JSON answers and metrics write numbers as integers or plain decimals, never in exponent "
          "form",
          "[http][json]") {
  live_node node;
  REQUIRE(node.post("/api/v1/actors/order%2Fn1/messages", order_json).status == 202);
  REQUIRE(test::eventually([&] { return node.journal_length("notify%2Fc7") == 1; }));
  auto status = node.get("/api/v1/status");
  INFO(status.body);
  CHECK_FALSE(has_exponent_number(status.body));
  auto o = json_of(status);
  REQUIRE(o.contains("uptime_s"));
  CHECK(o.at("uptime_s").is_number());
  auto metrics = node.get("/metrics");
  INFO(metrics.body);
  CHECK(metrics.body.find("cairn_commit_latency_seconds_bucket{le=\"0.00005\"}")
        != std::string::npos);
  CHECK_FALSE(has_exponent_number(metrics.body));
}

TEST_CASE("a message's payload keeps its numbers as the client wrote them", "[http][json]") {
  live_node node;
  // The chain's hops declare no JSON types: a JSON note is accepted as sent,
  // refused by the hop (not retried: it would fail the same way again) and
  // ends as a dead letter that shows the stored payload.
  REQUIRE(node
            .post("/api/v1/actors/hop_a%2Fw1/messages",
                  R"({"type":"demo.note/v1","payload":{"customer":"c1",)"
                  R"("region":"north","weight_kg":12.5,"ratio":0.00001}})")
            .status
          == 202);
  std::string id;
  REQUIRE(test::eventually([&] {
    auto list = json_of(node.get("/api/v1/dead-letters?kind=hop_a"));
    const auto& items = list.at("dead_letters").as_array();
    if (items.empty())
      return false;
    id = std::string{items[0].as_object().at("id").as_string()};
    return true;
  }));
  auto shown = node.get("/api/v1/dead-letters/" + id);
  REQUIRE(shown.status == 200);
  CHECK(json_of(shown).at("attempts") == 1);
  CHECK(json_of(shown).at("payload").at("weight_kg") == 12.5);
  auto payload = shown.body;
  INFO(payload);
  CHECK(payload.find("\"weight_kg\":12.5") != std::string::npos);
  CHECK(payload.find("\"ratio\":0.00001") != std::string::npos);
  CHECK_FALSE(has_exponent_number(payload));
}

TEST_CASE("next_cursor is null on the last page of actors, also when that page is exactly full",
          "[http][paging]") {
  live_node node{{"--max-active", "0"}}; // the actors keep their mail: nothing runs
  REQUIRE(node.post("/api/v1/actors/order%2Fp1/messages", order_json).status == 202);
  REQUIRE(node.post("/api/v1/actors/order%2Fp2/messages", order_json).status == 202);
  auto full = json_of(node.get("/api/v1/actors?kind=order&limit=2"));
  CHECK(full.at("actors").as_array().size() == 2);
  CHECK(full.at("next_cursor").is_null());
  auto first = json_of(node.get("/api/v1/actors?kind=order&limit=1"));
  REQUIRE(first.at("actors").as_array().size() == 1);
  REQUIRE(first.at("next_cursor") == json::value("order/p1"));
  auto last = json_of(node.get("/api/v1/actors?kind=order&limit=1&cursor=order%2Fp1"));
  REQUIRE(last.at("actors").as_array().size() == 1);
  CHECK(last.at("actors").as_array()[0].as_object().at("id") == json::value("order/p2"));
  CHECK(last.at("next_cursor").is_null());
  CHECK(json_of(node.get("/api/v1/actors?kind=order&limit=5")).at("next_cursor").is_null());
  CHECK(json_of(node.get("/api/v1/actors?kind=nosuch")).at("next_cursor").is_null());
}

TEST_CASE("next_cursor is null on the last page of dead letters, filtered or not",
          "[http][paging][dlq]") {
  live_node node{{"--flaky-rate", "1.0"}};
  REQUIRE(node.post("/api/v1/actors/order%2Fq1/messages", order_json).status == 202);
  REQUIRE(node.post("/api/v1/actors/order%2Fq2/messages", order_json).status == 202);
  REQUIRE(test::eventually([&] {
    return node.get("/api/v1/dead-letters").body.find("\"to\":\"payment/q2\"") != std::string::npos
           && node.get("/api/v1/dead-letters").body.find("\"to\":\"payment/q1\"")
                != std::string::npos;
  }));
  for (std::string filter : {"", "&kind=payment", "&error=gateway"}) {
    INFO("filter " << filter);
    auto full = json_of(node.get("/api/v1/dead-letters?limit=2" + filter));
    CHECK(full.at("dead_letters").as_array().size() == 2);
    CHECK(full.at("next_cursor").is_null());
    auto first = json_of(node.get("/api/v1/dead-letters?limit=1" + filter));
    REQUIRE(first.at("dead_letters").as_array().size() == 1);
    REQUIRE(first.at("next_cursor").is_string());
    auto cursor = std::string{first.at("next_cursor").as_string()};
    CHECK(cursor == first.at("dead_letters").as_array()[0].as_object().at("id").as_string());
    auto last = json_of(node.get("/api/v1/dead-letters?limit=1&cursor=" + cursor + filter));
    CHECK(last.at("dead_letters").as_array().size() == 1);
    CHECK(last.at("next_cursor").is_null());
  }
  CHECK(json_of(node.get("/api/v1/dead-letters?kind=order")).at("next_cursor").is_null());
}

TEST_CASE("413 and 431 problems have a title like every other problem, and the README lists them",
          "[http][malformed]") {
  live_node node;
  auto huge = node.post("/api/v1/actors/order%2Fo1/messages", std::string(2 << 20, 'x'));
  REQUIRE(huge.status == 413);
  auto big = json_of(huge);
  CHECK(big.at("title") == json::value("payload_too_large"));
  CHECK(big.at("code") == json::value("payload_too_large"));
  CHECK(big.at("status") == json::value(413));
  CHECK(big.at("type") == json::value("about:blank"));
  auto size =
    test::http_call(node.port, "GET", "/healthz", "", {"X-Big: " + std::string(20'000, 'a')});
  REQUIRE(size.status == 431);
  CHECK(json_of(size).at("title") == json::value("headers_too_large"));
  std::vector<std::string> many;
  for (int i = 0; i < 150; ++i)
    many.push_back("X-Filler-" + std::to_string(i) + ": 1");
  auto count = test::http_call(node.port, "GET", "/healthz", "", many);
  REQUIRE(count.status == 431);
  CHECK(json_of(count).at("title") == json::value("headers_too_large"));
  // Every problem code these answers carry is in the README's list.
  std::ifstream in{std::string{CAIRN_SOURCE_DIR} + "/README.md"};
  std::stringstream readme;
  readme << in.rdbuf();
  CHECK(readme.str().find("413 `payload_too_large`") != std::string::npos);
  CHECK(readme.str().find("431 `headers_too_large`") != std::string::npos);
  CHECK(readme.str().find("503 `starting`") != std::string::npos);
}

TEST_CASE("a busy problem's detail names the same wait as its Retry-After header",
          "[http][backpressure]") {
  live_node node{{"--max-active", "0", "--max-pending", "1"}}; // nothing drains
  REQUIRE(node.post("/api/v1/actors/order%2Fr1/messages", order_json).status == 202);
  auto busy = node.post("/api/v1/actors/order%2Fr2/messages", order_json);
  REQUIRE(busy.status == 429);
  REQUIRE(busy.header("retry-after") == "1");
  auto detail = std::string{json_of(busy).at("detail").as_string()};
  INFO(detail);
  CHECK(detail.find("retry after 1 s") != std::string::npos);
  CHECK(detail.find(" ms") == std::string::npos);
}

TEST_CASE("while the node is starting, work is refused with 503 starting, not shutting_down",
          "[http][lifecycle]") {
  test::temp_dir dir;
  auto gate = dir.sub("start-now");
  test::node_process proc{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0",
                           "--no-progress", "--log-level", "warn", "--hold-start", gate}};
  // The node serves HTTP and holds recovery until the gate file exists.
  const std::string holding = "cairn node holding start: http://127.0.0.1:";
  REQUIRE(proc.wait_for_output(holding));
  auto out = proc.output();
  auto port = static_cast<uint16_t>(std::stoul(out.substr(out.find(holding) + holding.size())));
  REQUIRE(port != 0);

  auto refused = test::http_call(port, "POST", "/api/v1/actors/order%2Fs1/messages", order_json);
  REQUIRE(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  auto problem = json_of(refused);
  CHECK(problem.at("code") == json::value("starting"));
  CHECK(problem.at("title") == json::value("starting"));
  auto redrive = test::http_call(port, "POST", "/api/v1/dead-letters/nothing/redrive");
  CHECK(redrive.status == 503);
  CHECK(json_of(redrive).at("code") == json::value("starting"));
  auto ready = test::http_call(port, "GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("starting") != std::string::npos);
  // Still held: every answer above came before recovery.
  CHECK(proc.output().find("cairn node ready") == std::string::npos);

  std::ofstream{gate} << "go";
  REQUIRE(proc.wait_for_output("cairn node ready"));
  CHECK(test::http_call(port, "POST", "/api/v1/actors/order%2Fs1/messages", order_json).status
        == 202);
  CHECK(test::http_call(port, "GET", "/readyz").status == 200);
}

TEST_CASE("status shows what storage holds across a restart, and where the node is",
          "[http][status]") {
  live_node node{{"--flaky-rate", "1.0"}}; // every payment fails: one dead letter per order
  for (auto id : {"order%2Fd1", "order%2Fd2"})
    REQUIRE(node.post(std::string{"/api/v1/actors/"} + id + "/messages", order_json).status == 202);
  REQUIRE(test::eventually(
    [&] { return json_of(node.get("/api/v1/status")).at("stored").at("dead_letters") == 2; },
    std::chrono::seconds{60}));
  node.proc->signal(SIGTERM);
  REQUIRE(node.proc->wait() == 0);
  INFO(node.proc->output());
  CHECK(node.proc->output().find("dead letters 2") != std::string::npos);

  node.start({"--flaky-rate", "1.0"});
  auto status = json_of(node.get("/api/v1/status"));
  INFO(json::serialize(status));
  // Counted since this process started: nothing yet. Stored: both.
  CHECK(status.at("totals").at("dead_lettered") == 0);
  CHECK(status.at("stored").at("dead_letters") == 2);
  CHECK(status.at("stored").at("pending") == 0);
  CHECK(status.at("address") == json::value("http://127.0.0.1:" + std::to_string(node.port)));
  CHECK(status.at("pid") == static_cast<int64_t>(node.proc->pid()));
  CHECK(status.at("data_dir") == json::value(node.dir.sub("data")));
  CHECK(status.at("data_dir_bytes").as_int64() > 0);
  CHECK(status.at("disk_free_bytes").as_int64() > 0);
  CHECK(status.at("version").as_string().size() > 0);
  auto kinds = status.at("kinds").as_array();
  CHECK(std::find(kinds.begin(), kinds.end(), json::value("payment")) != kinds.end());
  auto metrics = node.get("/metrics").body;
  CHECK(metrics.find("\ncairn_dead_letters 2\n") != std::string::npos);
  CHECK(metrics.find("\ncairn_data_dir_bytes ") != std::string::npos);
  // RocksDB figures are summed over cairn's column families (the default
  // family alone, which cairn never writes, shows 2048 and no keys).
  std::smatch m;
  REQUIRE(
    std::regex_search(metrics, m, std::regex{"\ncairn_rocksdb_cur_size_all_mem_tables (\\d+)"}));
  CHECK(std::stoull(m[1]) > 2048);
  CHECK(std::regex_search(metrics, std::regex{"\ncairn_rocksdb_estimate_num_keys [1-9]"}));
}

TEST_CASE("metrics show the HTTP server's connections and refusals and the MCP server's sessions",
          "[http][metrics]") {
  live_node node{{"--max-connections", "2"}};
  // Two idle connections hold the cap; a third request is refused.
  std::vector<int> idle;
  struct closer {
    std::vector<int>& fds;
    ~closer() {
      for (int fd : fds)
        close(fd);
    }
  } close_all{idle};
  for (int i = 0; i < 2; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    idle.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(node.port);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  REQUIRE(test::eventually([&] { return node.get("/healthz").status == 503; }));
  for (int fd : idle)
    close(fd);
  idle.clear();
  std::string metrics;
  REQUIRE(test::eventually([&] {
    auto r = node.get("/metrics");
    metrics = r.body;
    return r.status == 200;
  }));
  INFO(metrics);
  std::smatch m;
  REQUIRE(
    std::regex_search(metrics, m, std::regex{"\ncairn_http_connections_refused_total (\\d+)"}));
  CHECK(std::stoull(m[1]) >= 1);
  CHECK(std::regex_search(metrics, std::regex{"\ncairn_http_connections [1-9]"}));
  CHECK(metrics.find("\ncairn_http_stream_overflows_total 0\n") != std::string::npos);
  CHECK(metrics.find("\ncairn_mcp_sessions ") != std::string::npos);
  CHECK(metrics.find("# TYPE cairn_mcp_live_calls gauge") != std::string::npos);
}

namespace {

/// `cairn_spans_indexed_total` of the node on `port`.
uint64_t spans_indexed(uint16_t port) {
  auto m = test::http_call(port, "GET", "/metrics").body;
  std::smatch match;
  if (!std::regex_search(m, match, std::regex{R"re(cairn_spans_indexed_total (\d+))re"}))
    return 0;
  return std::stoull(match[1]);
}

/// The number of steps `GET /api/v1/traces/{id}/steps` lists (0 if none).
size_t trace_step_count(live_node& node, const std::string& trace) {
  auto r = node.get("/api/v1/traces/" + trace + "/steps");
  if (r.status != 200)
    return 0;
  return json::parse(r.body).at("steps").as_array().size();
}

} // namespace

TEST_CASE("every span a node committed is found by its trace id after a SIGKILL, once, whether "
          "the span index had it or not, and the index matches its cursor",
          "[http][trace][index][crash]") {
  live_node node;
  auto trace_of = [](size_t i) {
    char id[33];
    std::snprintf(id, sizeof id, "%032zx", 0xc0ffee000 + i);
    return std::string{id};
  };
  auto send = [&](size_t from, size_t to) {
    std::string body = "[";
    for (size_t i = from; i < to; ++i) {
      auto m = json::parse(order_json).as_object();
      m["to"] = "order/t" + std::to_string(i);
      m["traceparent"] = "00-" + trace_of(i) + "-00f067aa0ba902b7-01";
      body += (i == from ? "" : ",") + json::serialize(m);
    }
    REQUIRE(node.post("/api/v1/messages:batch", body + "]").status == 202);
    for (size_t i = from; i < to; ++i)
      REQUIRE(
        test::eventually([&] { return node.order_completed("order%2Ft" + std::to_string(i)); }));
  };
  // Orders whose spans the indexer has had time to take, then orders sent
  // right before the kill (most likely still after the index's cursor).
  constexpr size_t n = 40;
  send(0, n / 2);
  REQUIRE(test::eventually([&] { return spans_indexed(node.port) > 0; }));
  send(n / 2, n);
  std::vector<size_t> steps(n);
  for (size_t i = 0; i < n; ++i) {
    steps[i] = trace_step_count(node, trace_of(i));
    REQUIRE(steps[i] >= 5); // the order and every hop of it
  }
  node.proc->signal(SIGKILL);
  REQUIRE(node.proc->wait() == 128 + SIGKILL);
  node.start();
  for (size_t i = 0; i < n; ++i) {
    INFO("order " << i);
    CHECK(trace_step_count(node, trace_of(i)) == steps[i]);
  }
  // Stopped cleanly, the index has taken every row (its last pass runs at
  // the stop), and every span of every row is named by it.
  node.proc->signal(SIGTERM);
  REQUIRE(node.proc->wait() == 0);
  auto st = open_rocksdb(storage_options{node.dir.sub("data"), true});
  REQUIRE(st);
  auto at = (*st)->get(column::trace_index, keys::span_index_cursor);
  REQUIRE(at);
  REQUIRE(*at);
  size_t checked = 0;
  std::string last;
  REQUIRE_FALSE((*st)->scan(column::trace, "", "", [&](std::string_view k, std::string_view v) {
    last = k;
    CHECK(internal::for_each_span(k, v, [&](std::string_view key, auto) {
      auto named = (*st)->get(column::trace_index,
                              keys::span_index_row(key.substr(8, keys::trace_id_size), k));
      REQUIRE(named);
      CHECK(named->has_value());
      ++checked;
    }));
    return true;
  }));
  CHECK(last == **at);
  size_t all = 0;
  for (auto s : steps)
    all += s;
  CHECK(checked >= all);
}
