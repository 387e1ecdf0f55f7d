// SPDX-License-Identifier: Apache-2.0
// Typed messages at the door and in the audit trail: declared types decoded
// from JSON before anything is persisted, deterministic failures not
// retried, journal events and dead letters shown as JSON with their time,
// cause and trace, and one request followed across actors by trace id or
// idempotency key — through the node API, in-process, on real RocksDB.
#include <algorithm>
#include <future>
#include <map>
#include <utility>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "typed_order.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::typed;
using namespace std::chrono_literals;
namespace bj = boost::json;

namespace {

/// What `shop` journals for an order, and sends on to `ship`.
struct ordered {
  std::string customer;
  uint32_t qty = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ordered& x) {
  return f(caf::meta::type_name("test.ordered"), field{"customer"}, x.customer, field{"qty"},
           x.qty);
}

struct no_state {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, no_state&) {
  return f(caf::meta::type_name("test.no_state"));
}

} // namespace

CAIRN_MESSAGE_TYPE(ordered, "test.ordered/v1");

namespace {

// -- through a node ---------------------------------------------------------------

/// `shop` accepts typed orders and JSON notes; an order journals `ordered`
/// and tells `ship/<customer>`; qty 0 is malformed input (not retryable);
/// qty 13 fails as a transient fault would.
class shop : public stateful_actor<no_state> {
public:
  shop() {
    on<order>([](context& ctx, const order& o) -> caf::error {
      if (o.qty == 0)
        return make_error(errc::invalid_argument, "an order needs qty > 0");
      if (o.qty == 13)
        return make_error(errc::handler_failed, "the warehouse is down");
      ctx.emit(ordered{o.customer, o.qty});
      ctx.send("ship/" + o.customer, ordered{o.customer, o.qty});
      return {};
    });
    on_json("test.note/v1", [](context&, std::string_view) -> caf::error { return {}; });
    on_event<ordered>([](const ordered&) {});
  }
};

class ship : public stateful_actor<no_state> {
public:
  ship() {
    on<ordered>([](context& ctx, const ordered& o) -> caf::error {
      ctx.emit(ordered{o.customer, o.qty * 10});
      return {};
    });
    on_event<ordered>([](const ordered&) {});
  }
};

struct node {
  test::temp_dir dir;
  std::unique_ptr<runtime> rt;
  http_handler api;

  node() {
    runtime_options o;
    o.data_dir = dir.sub("data");
    o.threads = 2;
    auto r = runtime::open(o);
    REQUIRE(r);
    rt = std::move(*r);
    kind_options shop_opts;
    shop_opts.retry.max_attempts = 3;
    shop_opts.retry.initial_backoff = 5ms;
    shop_opts.retry.max_backoff = 10ms;
    shop_opts.accepts = {json::codec_for<order>(), json::json_object_codec("test.note/v1")};
    shop_opts.events = {json::codec_for<ordered>()};
    REQUIRE_FALSE(rt->register_kind(
      "shop", [](std::string_view) { return std::make_unique<shop>(); }, shop_opts));
    kind_options ship_opts;
    ship_opts.events = {json::codec_for<ordered>()};
    REQUIRE_FALSE(rt->register_kind(
      "ship", [](std::string_view) { return std::make_unique<ship>(); }, ship_opts));
    REQUIRE_FALSE(rt->start());
    api = make_node_api(*rt, {});
  }

  http_response call(std::string method, std::string target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    if (!req.body.empty())
      req.headers.emplace_back("content-type", "application/json");
    std::promise<http_response> p;
    auto f = p.get_future();
    api(req, [&p](http_response r) { p.set_value(std::move(r)); });
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    return f.get();
  }

  bj::value get_json(const std::string& target, unsigned want = 200) {
    auto r = call("GET", target);
    INFO(target << " -> " << r.body);
    REQUIRE(r.status == want);
    return bj::parse(r.body);
  }
};

std::string post_body(const std::string& type, const std::string& payload,
                      const std::string& key = {}) {
  std::string body = R"({"type":")" + type + R"(","payload":)" + payload;
  if (!key.empty())
    body += R"(,"idempotency_key":")" + key + "\"";
  return body + "}";
}

const std::string good_order =
  R"({"customer":"c1","qty":2,"skus":["milk"],"ship_to":{"city":"north"},"how":0})";

TEST_CASE("a kind that declares its types refuses others at the door, persisting nothing",
          "[api][typed]") {
  node n;
  auto unknown =
    n.call("POST", "/api/v1/actors/shop/a/messages", post_body("test.refund/v1", "{}"));
  CHECK(unknown.status == 400);
  CHECK_THAT(unknown.body, Catch::Contains("unknown_message_type"));
  CHECK_THAT(unknown.body, Catch::Contains("test.order/v1"));
  CHECK_THAT(unknown.body, Catch::Contains("test.note/v1"));

  auto bad = n.call("POST", "/api/v1/actors/shop/a/messages",
                    post_body("test.order/v1", R"({"customer":5})"));
  CHECK(bad.status == 422);
  CHECK_THAT(bad.body, Catch::Contains("invalid_payload"));
  CHECK_THAT(bad.body, Catch::Contains("payload.customer"));

  auto not_object =
    n.call("POST", "/api/v1/actors/shop/a/messages", post_body("test.note/v1", R"("just text")"));
  CHECK(not_object.status == 422);

  // A number too large for a double reads as null, not as infinity.
  auto huge = n.call("POST", "/api/v1/actors/shop/a/messages",
                     post_body("test.order/v1", R"({"customer":"c1","qty":1e400,"skus":[],)"
                                                R"("ship_to":{"city":"north"},"how":0})"));
  CHECK(huge.status == 422);
  CHECK_THAT(huge.body, Catch::Contains("payload.qty: expected an unsigned integer, got null"));

  // Nothing of the refused requests was stored.
  CHECK(n.rt->stats().accepted == 0);
  CHECK(n.rt->stats().pending == 0);
  CHECK(code_of(n.rt->describe("shop/a").error()) == errc::not_found);

  auto note = n.call("POST", "/api/v1/actors/shop/a/messages",
                     post_body("test.note/v1", R"({"text":"hello"})"));
  CHECK(note.status == 202);
  auto good =
    n.call("POST", "/api/v1/actors/shop/a/messages", post_body("test.order/v1", good_order));
  REQUIRE(good.status == 202);
  // A whole number written as a double is that integer.
  auto whole = n.call("POST", "/api/v1/actors/shop/a/messages",
                      post_body("test.order/v1", R"({"customer":"c1","qty":2.0,"skus":["milk"],)"
                                                 R"("ship_to":{"city":"north"},"how":0})"));
  CHECK(whole.status == 202);
  REQUIRE(test::eventually([&] { return n.rt->stats().processed >= 4; }));
  CHECK(n.rt->stats().dead_lettered == 0);
}

TEST_CASE("journal events are shown as JSON with their time, cause and trace", "[api][typed]") {
  node n;
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto r = n.call("POST", "/api/v1/actors/shop/a/messages", post_body("test.order/v1", good_order),
                  {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  REQUIRE(r.status == 202);
  auto envelope_id = std::string{bj::parse(r.body).at("id").as_string()};
  REQUIRE(test::eventually([&] { return n.rt->stats().processed >= 2; }));
  auto j = n.get_json("/api/v1/actors/shop%2Fa/journal");
  auto& events = j.at("events").as_array();
  REQUIRE(events.size() == 1);
  auto& e = events[0].as_object();
  CHECK(e.at("type") == "test.ordered/v1");
  CHECK(e.at("payload") == bj::parse(R"({"customer":"c1","qty":2})"));
  CHECK(e.at("cause") == bj::value(envelope_id));
  CHECK(e.at("trace_id") == bj::value(trace));
  CHECK(e.at("time_ms").as_int64() > 1'700'000'000'000);
  CHECK(std::string{e.at("time").as_string()}.back() == 'Z');
  CHECK_FALSE(e.contains("payload_base64"));
}

TEST_CASE("a deterministic failure goes straight to dead letters, a transient one is retried",
          "[api][typed][dlq]") {
  node n;
  auto bad = n.call("POST", "/api/v1/actors/shop/b/messages",
                    post_body("test.order/v1", R"({"customer":"c2","qty":0,"skus":[],)"
                                               R"("ship_to":{"city":"x"},"how":0})"));
  REQUIRE(bad.status == 202);
  auto bad_id = std::string{bj::parse(bad.body).at("id").as_string()};
  REQUIRE(test::eventually([&] { return n.rt->stats().dead_lettered == 1; }));
  auto dl = n.get_json("/api/v1/dead-letters/" + bad_id);
  CHECK(dl.at("attempts") == 1);
  CHECK_THAT(std::string{dl.at("error").as_string()}, Catch::Contains("qty > 0"));
  // Its payload is shown as the JSON it was sent as.
  CHECK(dl.at("payload").at("customer") == "c2");
  CHECK(n.rt->stats().retried == 0);

  const std::string trace = "5af7651916cd43dd8448eb211c80319d";
  auto flaky = n.call("POST", "/api/v1/actors/shop/c/messages",
                      post_body("test.order/v1", R"({"customer":"c3","qty":13,"skus":[],)"
                                                 R"("ship_to":{"city":"x"},"how":0})"),
                      {{"traceparent", "00-" + trace + "-b7ad6b7169203331-01"}});
  REQUIRE(flaky.status == 202);
  auto flaky_id = std::string{bj::parse(flaky.body).at("id").as_string()};
  REQUIRE(test::eventually([&] { return n.rt->stats().dead_lettered == 2; }));
  CHECK(n.get_json("/api/v1/dead-letters/" + flaky_id).at("attempts") == 3);
  CHECK(n.rt->stats().retried == 2);

  // Its trace: three attempts, each retry linked to the attempt before it,
  // and the dead-lettering as a span under the last one.
  auto tree = n.get_json("/api/v1/traces/" + trace);
  CHECK(tree.at("span_count") == 4);
  CHECK(tree.at("errors") == 4);
  auto& roots = tree.at("roots").as_array();
  REQUIRE(roots.size() == 3); // each attempt handles the caller's message
  std::vector<std::string> ids;
  for (size_t i = 0; i < 3; ++i) {
    auto& a = roots[i].as_object();
    INFO(bj::serialize(a));
    CHECK(a.at("attempt") == static_cast<int64_t>(i + 1));
    CHECK(a.at("status") == "error");
    CHECK(a.at("parent_span_id") == "b7ad6b7169203331");
    ids.emplace_back(a.at("span_id").as_string());
    auto& links = a.at("links").as_array();
    if (i == 0) {
      CHECK(links.empty());
    } else {
      REQUIRE(links.size() == 1);
      CHECK(links[0].at("type") == "retry_of");
      CHECK(links[0].at("span_id") == bj::value(ids[i - 1]));
      CHECK(links[0].at("local") == true);
    }
  }
  auto& last = roots[2].as_object();
  REQUIRE(last.at("children").as_array().size() == 1);
  auto& dead = last.at("children").as_array()[0].as_object();
  CHECK(dead.at("name") == "dead-letter test.order/v1");
  CHECK(dead.at("kind") == "internal");
  CHECK(dead.at("attributes").at("cairn.dead_letter.id") == bj::value(flaky_id));
  CHECK(dead.at("attributes").at("cairn.attempt") == 3);
}

TEST_CASE("one request is followed across actors by its trace id or its idempotency key",
          "[api][typed][trace]") {
  node n;
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  auto r = n.call("POST", "/api/v1/actors/shop/a/messages",
                  post_body("test.order/v1", good_order, "order-42"),
                  {{"traceparent", "00-" + trace + "-b7ad6b7169203331-01"}});
  REQUIRE(r.status == 202);
  auto envelope_id = std::string{bj::parse(r.body).at("id").as_string()};
  // Another request, another trace: not part of the answer.
  REQUIRE(
    n.call("POST", "/api/v1/actors/shop/b/messages", post_body("test.order/v1", good_order)).status
    == 202);
  REQUIRE(test::eventually([&] { return n.rt->stats().processed >= 4; }));

  auto t = n.get_json("/api/v1/traces/" + trace + "/steps");
  CHECK(t.at("trace_id") == bj::value(trace));
  auto& steps = t.at("steps").as_array();
  REQUIRE(steps.size() == 2);
  auto& first = steps[0].as_object();
  CHECK(first.at("actor") == "shop/a");
  CHECK(first.at("type") == "test.order/v1");
  CHECK(first.at("envelope_id") == bj::value(envelope_id));
  CHECK(first.at("status") == "ok");
  CHECK(first.at("events").as_array()[0].at("payload").at("qty") == 2);
  REQUIRE(first.at("sent").as_array().size() == 1);
  auto sent_id = first.at("sent").as_array()[0].at("id");
  CHECK(first.at("sent").as_array()[0].at("to") == "ship/c1");
  auto& second = steps[1].as_object();
  CHECK(second.at("actor") == "ship/c1");
  CHECK(second.at("envelope_id") == sent_id);
  CHECK(second.at("parent_span_id") == first.at("span_id"));
  CHECK(second.at("events").as_array()[0].at("payload").at("qty") == 20);

  // The same answer from the idempotency key, with or without the actor.
  auto by_key = n.get_json("/api/v1/traces?idempotency_key=order-42");
  CHECK(by_key.at("trace_id") == bj::value(trace));
  CHECK(by_key.at("envelope_id") == bj::value(envelope_id));
  CHECK(by_key.at("actor") == "shop/a");
  CHECK(by_key.at("steps").as_array().size() == 2);
  CHECK(n.get_json("/api/v1/traces?idempotency_key=order-42&actor=shop%2Fa").at("trace_id")
        == bj::value(trace));

  n.get_json("/api/v1/traces?idempotency_key=order-43", 404);
  n.get_json("/api/v1/traces?idempotency_key=order-42&actor=shop%2Fz", 404);
  n.get_json("/api/v1/traces/ffffffffffffffffffffffffffffffff/steps", 404);
  n.get_json("/api/v1/traces/not-a-trace/steps", 400);
  n.get_json("/api/v1/traces?idempotency_key=", 400);

  // The span tree: one root under the caller's span, the hop its child.
  auto tree = n.get_json("/api/v1/traces/" + trace);
  CHECK(tree.at("span_count") == 2);
  CHECK(tree.at("errors") == 0);
  auto& roots = tree.at("roots").as_array();
  REQUIRE(roots.size() == 1);
  auto& root = roots[0].as_object();
  CHECK(root.at("parent_span_id") == "b7ad6b7169203331");
  CHECK(root.at("name") == "process test.order/v1");
  CHECK(root.at("kind") == "consumer");
  CHECK(root.at("status") == "ok");
  CHECK(root.at("offset_us") == 0);
  CHECK(root.at("actor") == "shop/a");
  REQUIRE(root.at("children").as_array().size() == 1);
  auto& child = root.at("children").as_array()[0].as_object();
  CHECK(child.at("actor") == "ship/c1");
  CHECK(child.at("envelope_id") == sent_id);
  CHECK(child.at("offset_us").as_int64() >= 0);
  CHECK(child.at("offset_us").as_int64() + child.at("duration_us").as_int64()
        <= tree.at("duration_us").as_int64());
  n.get_json("/api/v1/traces/ffffffffffffffffffffffffffffffff", 404);
  n.get_json("/api/v1/traces/not-a-trace", 400);

  // The list: both requests' traces, newest first; filters narrow it.
  auto list = n.get_json("/api/v1/traces");
  CHECK(list.at("complete") == true);
  auto& all = list.at("traces").as_array();
  REQUIRE(all.size() == 2);
  CHECK(all[0].at("start_us").as_int64() >= all[1].at("start_us").as_int64());
  auto only_a = n.get_json("/api/v1/traces?actor=ship%2Fc1");
  bool found = false;
  for (auto& x : only_a.at("traces").as_array())
    found = found || x.at("trace_id") == bj::value(trace);
  CHECK(found);
  CHECK(n.get_json("/api/v1/traces?actor=nobody%2Fx").at("traces").as_array().empty());
  CHECK(n.get_json("/api/v1/traces?status=error").at("traces").as_array().empty());
  CHECK(n.get_json("/api/v1/traces?min_duration_ms=3600000").at("traces").as_array().empty());
  CHECK(n.get_json("/api/v1/traces?limit=1").at("traces").as_array().size() == 1);
  n.get_json("/api/v1/traces?limit=0", 400);
  n.get_json("/api/v1/traces?since_ms=yesterday", 400);
  n.get_json("/api/v1/traces?status=maybe", 400);
}

TEST_CASE("the stored dead-letter total survives a restart and follows redrive and discard",
          "[dlq][stats]") {
  test::temp_dir dir;
  auto open_node = [&] {
    runtime_options o;
    o.data_dir = dir.sub("data");
    o.threads = 2;
    auto r = runtime::open(o);
    REQUIRE(r);
    kind_options ko;
    ko.accepts = {json::codec_for<order>()};
    REQUIRE_FALSE((*r)->register_kind(
      "shop", [](std::string_view) { return std::make_unique<shop>(); }, ko));
    REQUIRE_FALSE(
      (*r)->register_kind("ship", [](std::string_view) { return std::make_unique<ship>(); }));
    REQUIRE_FALSE((*r)->start());
    return std::move(*r);
  };
  std::vector<std::string> ids;
  {
    auto rt = open_node();
    for (auto key : {"x", "y", "z"}) {
      auto id = rt->tell("shop/" + std::string{key}, order{"c", 0, {}, {}, speed::standard});
      REQUIRE(id);
      ids.push_back(*id);
    }
    REQUIRE(test::eventually([&] { return rt->stats().dead_letters == 3; }));
    CHECK(rt->stats().dead_lettered == 3);
  }
  auto rt = open_node();
  // Per-process counters start again; the stored total does not.
  CHECK(rt->stats().dead_lettered == 0);
  CHECK(rt->stats().dead_letters == 3);
  REQUIRE_FALSE(rt->discard(ids[0]));
  CHECK(rt->stats().dead_letters == 2);
  REQUIRE_FALSE(rt->redrive(ids[1]));
  // Redriven, it fails the same way again and is dead-lettered once more.
  REQUIRE(test::eventually([&] { return rt->stats().dead_lettered == 1; }));
  CHECK(rt->stats().dead_letters == 2);
}

} // namespace
