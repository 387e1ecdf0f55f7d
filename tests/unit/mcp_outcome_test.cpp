// SPDX-License-Identifier: Apache-2.0
// Durable replies: an actor starts a tool call with `server::call` and hears
// its outcome as a `tool_outcome` message committed with the call's record of
// it — once, also across a restart of the node and when the call is
// dead-lettered.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <boost/json.hpp>

#include "cairn/codec.hpp"
#include "cairn/mcp/outcome.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using mcp::tool_outcome;
namespace json = boost::json;

namespace {

/// Journals every outcome it hears.
class waiter : public stateful_actor<std::vector<tool_outcome>> {
public:
  waiter() {
    on<tool_outcome>([](context& ctx, const tool_outcome& o) {
      ctx.emit(o);
      return caf::error{};
    });
    on_event<tool_outcome>([this](const tool_outcome& o) { state.push_back(o); });
  }
};

std::vector<tool_outcome> heard(runtime& rt, const std::string& id) {
  std::vector<tool_outcome> out;
  ignore_error(rt.read_journal(id, 1, 1000, [&](uint64_t, std::string_view, std::string_view p) {
    if (auto o = decode<tool_outcome>(p))
      out.push_back(*o);
  }));
  return out;
}

/// A node: runtime + MCP server with the tools the cases use.
struct node {
  std::unique_ptr<runtime> rt;
  std::unique_ptr<mcp::server> srv;

  node(const std::string& dir, std::atomic<bool>& gate, std::atomic<int>& entered) {
    runtime_options ro;
    ro.data_dir = dir;
    ro.threads = 2;
    auto opened = runtime::open(ro);
    REQUIRE(opened);
    rt = std::move(*opened);
    mcp::server_options so;
    so.actor_resources = false;
    srv = std::make_unique<mcp::server>(*rt, so);
    mcp::tool_spec twice;
    twice.name = "twice";
    twice.description = "Doubles n";
    twice.input_schema = json::parse(R"({"type":"object","required":["n"],
                                         "properties":{"n":{"type":"integer"}}})")
                           .as_object();
    twice.handler = [](mcp::call& c) -> caf::expected<mcp::tool_result> {
      mcp::tool_result r;
      r.structured = json::object{{"n", c.arguments().at("n").as_int64() * 2}};
      return r;
    };
    srv->add_tool(std::move(twice));
    mcp::tool_spec gated;
    gated.name = "gated";
    gated.description = "Waits for the test's gate";
    gated.handler = [&gate, &entered](mcp::call& c) -> caf::expected<mcp::tool_result> {
      ++entered;
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
      while (!gate.load() && !c.cancelled() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
      return mcp::tool_result::text("through the gate");
    };
    srv->add_tool(std::move(gated));
    mcp::tool_spec broken;
    broken.name = "broken";
    broken.description = "Throws, every time";
    broken.max_attempts = 1;
    broken.handler = [](mcp::call&) -> caf::expected<mcp::tool_result> {
      throw std::runtime_error("the broken tool broke");
    };
    srv->add_tool(std::move(broken));
    REQUIRE_FALSE(
      rt->register_kind("waiter", [](std::string_view) { return std::make_unique<waiter>(); }));
    srv->attach();
    REQUIRE_FALSE(rt->start());
  }

  ~node() {
    srv->shutdown();
    rt->stop();
  }
};

} // namespace

TEST_CASE("an actor hears the outcome of the tool call it started, with its correlation",
          "[mcp][reply]") {
  test::temp_dir dir;
  std::atomic<bool> gate{true};
  std::atomic<int> entered{0};
  node n{dir.sub("data"), gate, entered};
  auto id = n.srv->call("twice", json::object{{"n", 21}}, "waiter/w1", "step-7");
  REQUIRE(id);
  CHECK(id->rfind("tool.twice/", 0) == 0);
  REQUIRE(test::eventually([&] { return heard(*n.rt, "waiter/w1").size() == 1; }));
  auto got = heard(*n.rt, "waiter/w1").front();
  CHECK(got.call_id == *id);
  CHECK(got.tool == "twice");
  CHECK(got.status == "completed");
  CHECK(got.correlation == "step-7");
  CHECK(json::parse(got.result).at("structuredContent").at("n") == 42);

  // Refused before anything is stored: bad arguments, unknown tool, bad reply_to.
  auto bad = n.srv->call("twice", json::object{{"n", "many"}}, "waiter/w1");
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == errc::invalid_argument);
  CHECK_THAT(render(bad.error()), Catch::Contains("$.n: expected integer"));
  auto unknown = n.srv->call("no_such_tool", {}, "waiter/w1");
  REQUIRE_FALSE(unknown);
  CHECK(code_of(unknown.error()) == errc::not_found);
  auto nobody = n.srv->call("twice", json::object{{"n", 1}}, "not an actor id");
  REQUIRE_FALSE(nobody);
  CHECK(code_of(nobody.error()) == errc::invalid_argument);
}

TEST_CASE("a call interrupted by a stop answers its actor once after the restart",
          "[mcp][reply][restart]") {
  test::temp_dir dir;
  std::atomic<bool> gate{false};
  std::atomic<int> entered{0};
  std::string id;
  {
    node n{dir.sub("data"), gate, entered};
    auto started = n.srv->call("gated", {}, "waiter/w2", "after-restart");
    REQUIRE(started);
    id = *started;
    // Stop while the handler runs (observed, not timed).
    REQUIRE(test::eventually([&] { return entered.load() == 1; }));
    CHECK(heard(*n.rt, "waiter/w2").empty());
  }
  gate = true;
  node again{dir.sub("data"), gate, entered};
  REQUIRE(test::eventually([&] { return heard(*again.rt, "waiter/w2").size() == 1; }));
  REQUIRE(test::eventually([&] { return again.rt->idle(); }));
  auto got = heard(*again.rt, "waiter/w2");
  REQUIRE(got.size() == 1); // exactly once, though the call ran twice
  CHECK(got[0].call_id == id);
  CHECK(got[0].status == "completed");
  CHECK(got[0].correlation == "after-restart");
  CHECK(entered.load() == 2);
}

TEST_CASE("a dead-lettered call still tells its actor that it failed", "[mcp][reply][dlq]") {
  test::temp_dir dir;
  std::atomic<bool> gate{true};
  std::atomic<int> entered{0};
  node n{dir.sub("data"), gate, entered};
  auto id = n.srv->call("broken", {}, "waiter/w3", "doomed");
  REQUIRE(id);
  REQUIRE(test::eventually([&] { return heard(*n.rt, "waiter/w3").size() == 1; }));
  auto got = heard(*n.rt, "waiter/w3").front();
  CHECK(got.call_id == *id);
  CHECK(got.status == "failed");
  CHECK(got.correlation == "doomed");
  CHECK_THAT(got.result, Catch::Contains("the broken tool broke"));
  CHECK(n.rt->stats().dead_lettered == 1);
}
