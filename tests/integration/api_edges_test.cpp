// SPDX-License-Identifier: Apache-2.0
// Every query parameter of every node API endpoint at its edges, against one
// live node: each answer is a 4xx problem or a valid 200 page, and the node
// keeps serving.
#include <csignal>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

struct endpoint {
  std::string method;
  std::string path;
  std::vector<std::string> params;
};

const std::vector<std::string> edge_values = {"0",
                                              "-1",
                                              "1",
                                              "1001",
                                              "9223372036854775808",
                                              "18446744073709551616",
                                              "99999999999999999999999",
                                              "abc",
                                              "",
                                              "1.5",
                                              "+5",
                                              "%205",
                                              "5%00",
                                              "%zz",
                                              "%",
                                              "%4",
                                              "%-1",
                                              "%2B1",
                                              "order%2F",
                                              "zzzz%2Fzz",
                                              "%FF%FE"};

// A 200 must be a JSON (or text, for /metrics, /healthz, /readyz) page; any
// other answer a 4xx problem.
void check_answer(const test::http_reply& r, const std::string& what) {
  INFO(what << " -> " << r.status << " " << r.body.substr(0, 300));
  REQUIRE(r.status != 0); // the node answered
  if (r.status == 200 || r.status == 202 || r.status == 204) {
    if (r.header("content-type") == "application/json" && !r.body.empty()) {
      boost::system::error_code ec;
      auto v = boost::json::parse(r.body, ec);
      CHECK_FALSE(ec);
      CHECK(v.is_object());
    }
    return;
  }
  CHECK(r.status >= 400);
  CHECK(r.status < 500);
  CHECK(r.header("content-type") == "application/problem+json");
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.as_object().contains("code"));
}

} // namespace

TEST_CASE("every query parameter of every endpoint at its edges gets a 4xx problem or a valid "
          "page, and the node keeps serving",
          "[http][edges]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0",
                           "--no-progress", "--log-level", "warn", "--flaky-rate", "0", "--token",
                           "reader:read", "--token", "boss:admin"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());
  REQUIRE(port != 0);
  const std::vector<std::string> read_auth = {"Authorization: Bearer reader"};
  const std::vector<std::string> admin_auth = {"Authorization: Bearer boss",
                                               "Content-Type: application/json"};
  // Something to list: one order (its actors, journals).
  auto sent = test::http_call(
    port, "POST", "/api/v1/actors/order%2Fo1/messages",
    R"({"type":"demo.place_order/v1","payload":{"customer":"c","sku":"s","region":"north"}})",
    admin_auth);
  REQUIRE(sent.status == 202);

  SECTION("the crash that started it: a read-only token and limit=0") {
    auto r = test::http_call(port, "GET", "/api/v1/actors?limit=0", {}, read_auth);
    CHECK(r.status == 400);
    CHECK(r.body.find("\"code\":\"invalid_parameter\"") != std::string::npos);
    CHECK(node.running());
  }

  SECTION("the whole table") {
    const std::vector<endpoint> endpoints = {
      {"GET", "/api/v1/actors", {"limit", "kind", "cursor"}},
      {"GET", "/api/v1/timers", {"limit"}},
      {"GET", "/api/v1/dead-letters", {"limit", "kind", "cursor", "error", "since", "until"}},
      {"GET", "/api/v1/actors/order%2Fo1/journal", {"from", "limit"}},
      {"GET", "/api/v1/actors/order%2Fo1", {}},
      {"GET", "/api/v1/status", {}},
      {"GET", "/api/v1/topics", {}},
      {"GET", "/api/v1/topics/t/subscriptions", {}},
      {"GET", "/api/v1/dead-letters/nope", {}},
      {"DELETE", "/api/v1/dead-letters/nope", {}},
      {"POST", "/api/v1/dead-letters/nope/redrive", {}},
      {"GET", "/metrics", {}},
      {"GET", "/healthz", {}},
      {"GET", "/readyz", {}},
    };
    size_t calls = 0;
    for (const auto& ep : endpoints) {
      const auto& auth = ep.method == "GET" ? read_auth : admin_auth;
      auto call = [&](const std::string& query) {
        auto target = ep.path + (query.empty() ? "" : "?" + query);
        check_answer(test::http_call(port, ep.method, target, {}, auth), ep.method + " " + target);
        ++calls;
      };
      call("");
      call("unknown=1");
      call("&&=&");
      call("%zz=1");
      call("%");
      for (const auto& p : ep.params) {
        for (const auto& v : edge_values)
          call(p + "=" + v);
        call(p);
        call(p + "=1&" + p + "=2"); // repeated
        call(p + "=1&" + p + "=1");
      }
    }
    // Percent-encoding errors and forged ids in paths.
    for (const auto& bad : {"%zz", "%", "%4", "%-1", "a%2", "%00", "%2F", "x%2F", "x%2Fy%00z"}) {
      std::string b{bad};
      for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/api/v1/actors/" + b},
             {"GET", "/api/v1/actors/" + b + "/journal"},
             {"POST", "/api/v1/actors/" + b + "/messages"},
             {"GET", "/api/v1/dead-letters/" + b},
             {"DELETE", "/api/v1/dead-letters/" + b},
             {"POST", "/api/v1/dead-letters/" + b + "/redrive"},
             {"GET", "/api/v1/topics/" + b + "/subscriptions"}}) {
        const auto& auth = method == "GET" ? read_auth : admin_auth;
        check_answer(test::http_call(port, method, target, R"({"type":"x"})", auth),
                     method + " " + target);
        ++calls;
      }
    }
    INFO(calls << " requests");
    REQUIRE(node.running());
  }

  // Still serving, with the same process.
  CHECK(test::http_call(port, "GET", "/healthz").status == 200);
  CHECK(test::http_call(port, "GET", "/api/v1/actors?limit=1", {}, read_auth).status == 200);
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}
