// SPDX-License-Identifier: Apache-2.0
// The rules the node's HTTP API keeps, against a real `cairn node` process:
// tokens and scopes, the limits and their problems (429, 431, 413, 503
// starting), how numbers are written, pagination's last page, what status
// and metrics show, and spans found by trace id after a SIGKILL.
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
