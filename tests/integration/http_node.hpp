// SPDX-License-Identifier: Apache-2.0
// What the HTTP API tests share (http_api_test.cpp, http_api_rules_test.cpp):
// a real `cairn node` process on a free loopback port, and readings of its
// answers.
#pragma once

#include <algorithm>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

namespace cairn::test::http_api {

namespace json = boost::json;

inline json::object json_of(const test::http_reply& r) {
  INFO(r.status << " " << r.body);
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.as_object();
}

/// A number in exponent form (`3.5E1`, `5e-05`) anywhere in `text`.
inline bool has_exponent_number(const std::string& text) {
  static const std::regex exponent{R"((^|[\s:,\[{])-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+)"};
  return std::regex_search(text, exponent);
}

inline const std::string order_json =
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

} // namespace cairn::test::http_api
