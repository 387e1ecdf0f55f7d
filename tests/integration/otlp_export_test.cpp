// SPDX-License-Identifier: Apache-2.0
// Span export over OTLP/HTTP with JSON (docs/observability.md, "Export"):
// a real node exports to a receiver in the test, which checks the OTLP
// JSON's shape and answers as a collector would, busy ones included.
#include <csignal>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/http.hpp"
#include "cairn/otlp.hpp"
#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

/// An OTLP/HTTP receiver: keeps every span it accepts by trace id, and
/// answers the first `busy` requests 503 and every request 400 while
/// `refuse` is set.
struct receiver {
  std::mutex mtx;
  std::map<std::string, std::vector<json::object>> traces; ///< trace id -> spans
  std::vector<std::string> malformed;                      ///< why, for each bad request
  std::set<std::string> resources;                         ///< service.instance.id seen
  int requests = 0;
  int busy = 0;
  bool refuse = false;
  std::unique_ptr<http_server> server;

  receiver() {
    http_server_options o;
    o.port = 0;
    o.body_limit = 8 << 20;
    auto srv = http_server::start(
      o, [this](const http_request& req, http_responder respond) { respond(answer(req)); });
    REQUIRE(srv);
    server = std::move(*srv);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  http_response answer(const http_request& req) {
    http_response r;
    r.content_type = "application/json";
    std::lock_guard<std::mutex> guard{mtx};
    ++requests;
    if (req.method != "POST" || req.target != "/v1/traces"
        || req.header("content-type") != "application/json") {
      malformed.push_back("request " + req.method + " " + req.target + " "
                          + req.header("content-type"));
      r.status = 404;
      return r;
    }
    if (req.header("x-probe") != "cairn-test")
      malformed.push_back("the configured header is missing");
    if (busy > 0) {
      --busy;
      r.status = 503;
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    if (refuse) {
      r.status = 400;
      r.body = R"({"message":"refused by the test"})";
      return r;
    }
    if (auto why = take(req.body); !why.empty()) {
      malformed.push_back(why);
      r.status = 400;
      return r;
    }
    r.status = 200;
    r.body = "{}";
    return r;
  }

  static bool hex(const json::value& v, size_t n) {
    if (!v.is_string() || v.as_string().size() != n)
      return false;
    for (char c : v.as_string())
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return false;
    return true;
  }

  static bool nanos(const json::value& v) {
    if (!v.is_string() || v.as_string().empty())
      return false;
    for (char c : v.as_string())
      if (c < '0' || c > '9')
        return false;
    return true;
  }

  /// Checks an ExportTraceServiceRequest; "" or what is wrong.
  std::string take(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
      return "not a JSON object";
    auto* rs = v.as_object().if_contains("resourceSpans");
    if (!rs || !rs->is_array() || rs->as_array().empty())
      return "no resourceSpans";
    for (auto& r : rs->as_array()) {
      auto& attrs = r.at("resource").at("attributes").as_array();
      bool named = false;
      for (auto& a : attrs) {
        if (a.at("key") == "service.name")
          named = a.at("value").at("stringValue") == "cairn";
        if (a.at("key") == "service.instance.id")
          resources.insert(std::string{a.at("value").at("stringValue").as_string()});
      }
      if (!named)
        return "no service.name=cairn";
      for (auto& ss : r.at("scopeSpans").as_array()) {
        if (ss.at("scope").at("name") != "cairn")
          return "scope is not cairn";
        for (auto& sv : ss.at("spans").as_array()) {
          auto& s = sv.as_object();
          if (!hex(s.at("traceId"), 32) || !hex(s.at("spanId"), 16))
            return "ids are not hex: " + json::serialize(s);
          if (s.contains("parentSpanId") && !hex(s.at("parentSpanId"), 16))
            return "parent is not hex";
          if (!nanos(s.at("startTimeUnixNano")) || !nanos(s.at("endTimeUnixNano")))
            return "times are not decimal strings of nanoseconds";
          if (std::stoull(std::string{s.at("startTimeUnixNano").as_string()})
              > std::stoull(std::string{s.at("endTimeUnixNano").as_string()}))
            return "a span ends before it starts";
          if (!s.at("kind").is_int64() || !s.at("status").at("code").is_int64())
            return "enums are not numbers";
          if (!s.at("name").is_string() || !s.at("attributes").is_array())
            return "no name or attributes";
          traces[std::string{s.at("traceId").as_string()}].push_back(s);
        }
      }
    }
    return {};
  }

  std::vector<json::object> trace(const std::string& id) {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = traces.find(id);
    return it == traces.end() ? std::vector<json::object>{} : it->second;
  }
};

std::string attr(const json::object& span, const std::string& key) {
  for (auto& a : span.at("attributes").as_array())
    if (a.at("key") == json::value(key)) {
      auto& v = a.at("value").as_object();
      if (auto* s = v.if_contains("stringValue"))
        return std::string{s->as_string()};
      if (auto* i = v.if_contains("intValue"))
        return std::string{i->as_string()};
    }
  return {};
}

int64_t metric(uint16_t port, const std::string& name) {
  auto r = test::http_call(port, "GET", "/metrics");
  std::smatch m;
  if (!std::regex_search(r.body, m, std::regex{"\n" + name + " (\\d+)"}))
    return -1;
  return std::stoll(m[1]);
}

/// Starts chain `chain` with three items, in trace `trace_id` under parent span `parent`.
void start_chain(uint16_t port, int chain, const std::string& trace_id, const std::string& parent) {
  auto r = test::http_call(
    port, "POST", "/api/v1/actors/source%2F" + std::to_string(chain) + "/messages",
    R"({"type": "chain.produce/v1", "payload": {"count": 3, "batch": 64}})",
    {"Content-Type: application/json", "traceparent: 00-" + trace_id + "-" + parent + "-01"});
  REQUIRE(r.status == 202);
}

std::unique_ptr<test::node_process> start_node(const test::temp_dir& dir, const receiver& rx,
                                               uint16_t& port) {
  auto node = std::make_unique<test::node_process>(std::vector<std::string>{
    "node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--no-progress", "--log-level",
    "warn", "--otlp-endpoint", rx.endpoint(), "--otlp-headers", "X-Probe=cairn-test"});
  REQUIRE(node->wait_for_output("cairn node ready"));
  port = test::port_from_banner(node->output());
  return node;
}

} // namespace

TEST_CASE("a node exports its spans as OTLP JSON, one trace per request with every hop, "
          "through a busy receiver and across a SIGKILL",
          "[trace][otlp]") {
  test::temp_dir dir;
  receiver rx;
  rx.busy = 2; // the first two exports are answered 503, Retry-After: 1
  uint16_t port = 0;
  auto node = start_node(dir, rx, port);
  const std::string trace_a = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00f067aa0ba902b7";
  start_chain(port, 1, trace_a, parent);
  // source/1, then hop_a, hop_b and hop_c for each of the three items.
  REQUIRE(
    test::eventually([&] { return rx.trace(trace_a).size() >= 10; }, std::chrono::seconds{60}));
  auto spans = rx.trace(trace_a);
  {
    std::lock_guard<std::mutex> guard{rx.mtx};
    std::string why;
    for (auto& m : rx.malformed)
      why += m + "\n";
    INFO(why);
    CHECK(rx.malformed.empty());
    CHECK(rx.resources == std::set<std::string>{"local"});
  }
  CHECK(spans.size() == 10);
  // One tree: the request's parent is the root's parent, every other span
  // descends from a span of the trace.
  std::set<std::string> ids;
  for (auto& s : spans)
    ids.insert(std::string{s.at("spanId").as_string()});
  std::map<std::string, int> per_kind;
  int roots = 0;
  for (auto& s : spans) {
    INFO(json::serialize(s));
    auto p = std::string{s.at("parentSpanId").as_string()};
    roots += p == parent ? 1 : 0;
    CHECK((p == parent || ids.count(p) == 1));
    CHECK(s.at("kind").as_int64() == 5); // consumer
    CHECK(s.at("status").at("code").as_int64() == 1);
    CHECK(attr(s, "messaging.system") == "cairn");
    CHECK(attr(s, "messaging.operation.type") == "process");
    CHECK(attr(s, "cairn.attempt") == "1");
    ++per_kind[attr(s, "cairn.actor.kind")];
  }
  CHECK(roots == 1);
  CHECK(per_kind
        == std::map<std::string, int>{{"source", 1}, {"hop_a", 3}, {"hop_b", 3}, {"hop_c", 3}});
  CHECK(metric(port, "cairn_otlp_export_failures_total") >= 2);
  CHECK(metric(port, "cairn_otlp_spans_exported_total") >= 10);
  CHECK(metric(port, "cairn_otlp_spans_dropped_total") == 0);

  // Killed and started again: export resumes from its cursor on disk.
  node->signal(SIGKILL);
  node->wait();
  node = start_node(dir, rx, port);
  const std::string trace_b = "5bf92f3577b34da6a3ce929d0e0e4737";
  start_chain(port, 2, trace_b, parent);
  REQUIRE(
    test::eventually([&] { return rx.trace(trace_b).size() >= 10; }, std::chrono::seconds{60}));
  CHECK(rx.trace(trace_b).size() == 10);
  // At least once: a batch acknowledged just before the kill may come again,
  // but nothing of the first trace is missing.
  CHECK(rx.trace(trace_a).size() >= 10);
}

TEST_CASE("spans an OTLP receiver refuses are counted and dropped, and export goes on",
          "[trace][otlp]") {
  test::temp_dir dir;
  receiver rx;
  rx.refuse = true;
  uint16_t port = 0;
  auto node = start_node(dir, rx, port);
  start_chain(port, 1, "6bf92f3577b34da6a3ce929d0e0e4738", "00f067aa0ba902b7");
  REQUIRE(test::eventually([&] { return metric(port, "cairn_otlp_spans_rejected_total") >= 10; },
                           std::chrono::seconds{60}));
  CHECK(metric(port, "cairn_otlp_spans_exported_total") == 0);
  {
    std::lock_guard<std::mutex> guard{rx.mtx};
    rx.refuse = false;
  }
  // The refused spans are gone; the next ones get through.
  start_chain(port, 2, "7bf92f3577b34da6a3ce929d0e0e4739", "00f067aa0ba902b7");
  REQUIRE(
    test::eventually([&] { return rx.trace("7bf92f3577b34da6a3ce929d0e0e4739").size() >= 10; },
                     std::chrono::seconds{60}));
  CHECK(rx.trace("6bf92f3577b34da6a3ce929d0e0e4738").empty());
}

TEST_CASE("an unusable OTLP endpoint is refused at start with exit code 2", "[trace][otlp]") {
  test::temp_dir dir;
  for (std::string bad : {"https://collector:4318", "http://", "http://host:99999", "localhost"}) {
    test::node_process node{
      {"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--otlp-endpoint", bad}};
    INFO(bad << ": " << node.output());
    CHECK(node.wait() == 2);
    CHECK(node.output().find("--otlp-endpoint") != std::string::npos);
  }
  std::string host, port, target;
  CHECK(parse_otlp_endpoint("http://127.0.0.1:4318", host, port, target).empty());
  CHECK((host == "127.0.0.1" && port == "4318" && target == "/v1/traces"));
  CHECK(parse_otlp_endpoint("http://[::1]:9/otlp/v1/traces", host, port, target).empty());
  CHECK((host == "::1" && port == "9" && target == "/otlp/v1/traces"));
}
