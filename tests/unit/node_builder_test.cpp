// SPDX-License-Identifier: Apache-2.0
// The node as a library (cairn/node.hpp): what a node_builder registers
// reaches the node's runtime and MCP server in order, and a registration the
// node cannot take is an error naming it, never a crash or a silent
// replacement of a kind or tool the node has already.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "cairn/mcp/server.hpp"
#include "cairn/node.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

struct nothing {};
template <class I>
auto inspect(I& f, nothing&) {
  return f(caf::meta::type_name("nothing"));
}

class idle final : public stateful_actor<nothing> {};

class named final : public stateful_actor<nothing> {
public:
  explicit named(std::string_view id) : id_(id) {}
  std::optional<std::string> describe() const override { return "{\"id\":\"" + id_ + "\"}"; }

private:
  std::string id_;
};

mcp::tool_spec ok_tool(std::string name) {
  mcp::tool_spec t;
  t.name = std::move(name);
  t.handler = [](mcp::call&) -> caf::expected<mcp::tool_result> {
    return mcp::tool_result::text("ok");
  };
  return t;
}

struct node {
  test::temp_dir dir;
  std::unique_ptr<runtime> rt;
  std::unique_ptr<mcp::server> srv;
  node() {
    runtime_options ro;
    ro.data_dir = dir.path();
    auto opened = runtime::open(ro);
    REQUIRE(opened);
    rt = std::move(*opened);
    srv = std::make_unique<mcp::server>(*rt, mcp::server_options{});
  }
  /// Runs `b`'s steps as `node_main`'s node does; the first error.
  caf::error apply(const node_builder& b) {
    for (const auto& step : b.steps())
      if (auto err = step(*rt, *srv))
        return err;
    return {};
  }
  bool listed(const std::string& tool) const {
    for (const auto& t : srv->tool_listing())
      if (t.as_object().at("name") == json::value(tool))
        return true;
    return false;
  }
};

} // namespace

TEST_CASE("a node_builder's kinds, tools and setup steps reach the node in order", "[node]") {
  node n;
  node_builder b;
  std::vector<std::string> order;
  b.actor<idle>("idle").actor<named>("named").tool(ok_tool("greet"));
  b.setup([&](runtime& rt, mcp::server& srv) -> caf::error {
    order.push_back("setup");
    CHECK(rt.stats().by_kind.count("named") == 1); // registered before this step
    return {};
  });
  CHECK_FALSE(b.has_demo());
  REQUIRE(b.steps().size() == 4);
  REQUIRE_FALSE(n.apply(b));
  CHECK(order == std::vector<std::string>{"setup"});
  auto kinds = n.rt->stats().by_kind;
  CHECK(kinds.count("idle") == 1);
  CHECK(kinds.count("named") == 1);
  CHECK(n.listed("greet"));
  CHECK(b.demo().has_demo());
}

TEST_CASE("a registration the node cannot take is an error naming it", "[node]") {
  node n;
  SECTION("a kind registered twice") {
    node_builder b;
    b.actor<idle>("twice").actor<named>("twice");
    auto err = n.apply(b);
    REQUIRE(err);
    CHECK(code_of(err) == errc::conflict);
    CHECK_THAT(detail_of(err), Catch::Contains("'twice'"));
  }
  SECTION("a kind name with a slash") {
    node_builder b;
    b.actor<idle>("a/b");
    auto err = n.apply(b);
    REQUIRE(err);
    CHECK_THAT(detail_of(err), Catch::Contains("a/b"));
  }
  SECTION("a tool whose input schema does not compile") {
    node_builder b;
    auto t = ok_tool("broken");
    t.input_schema = json::object{{"type", 12}};
    b.tool(std::move(t));
    auto err = n.apply(b);
    REQUIRE(err);
    CHECK(code_of(err) == errc::invalid_argument);
    CHECK_THAT(detail_of(err), Catch::Contains("broken"));
    CHECK_FALSE(n.listed("broken"));
  }
  SECTION("a tool added twice keeps the first") {
    node_builder b;
    auto second = ok_tool("dup");
    second.description = "the second";
    b.tool(ok_tool("dup")).tool(std::move(second));
    auto err = n.apply(b);
    REQUIRE(err);
    CHECK(code_of(err) == errc::conflict);
    for (const auto& t : n.srv->tool_listing())
      if (t.as_object().at("name") == json::value("dup"))
        CHECK_FALSE(t.as_object().contains("description"));
  }
  SECTION("a tool with a bad name or no handler") {
    node_builder b;
    b.tool(ok_tool("has space"));
    CHECK_THAT(detail_of(n.apply(b)), Catch::Contains("1 to 128"));
    node_builder c;
    auto t = ok_tool("silent");
    t.handler = nullptr;
    c.tool(std::move(t));
    CHECK_THAT(detail_of(n.apply(c)), Catch::Contains("no handler"));
  }
  SECTION("a setup step's error") {
    node_builder b;
    b.setup([](runtime&, mcp::server&) { return make_error(errc::invalid_argument, "no config"); });
    CHECK(detail_of(n.apply(b)) == "no config");
  }
}
