// SPDX-License-Identifier: Apache-2.0
// The MCP layer's building blocks, without a transport: request-state
// signing, schema error paths, URI templates, configuration of tools.
#include <catch2/catch.hpp>

#include "cairn/tools/external_tools.hpp"
#include "internal.hpp"
#include "schema.hpp"
#include "server_impl.hpp"

using namespace cairn::mcp;

TEST_CASE("HMAC-SHA1 matches RFC 2202", "[mcp]") {
  CHECK(hmac_hex("Jefe", "what do ya want for nothing?")
        == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hmac_hex(std::string(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")
        == "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST_CASE("schema errors name the failing path", "[mcp]") {
  auto schema = compiled_schema::compile(json::parse(
    R"({"type":"object","required":["text"],"properties":{"text":{"type":"string"},
        "items":{"type":"array","items":{"type":"integer"}}}})"));
  REQUIRE(schema);
  CHECK((*schema)->check(json::parse(R"({"text":"ok","items":[1,2]})")).empty());
  auto why = (*schema)->check(json::parse(R"({"text":5})"));
  CHECK(why.find("$.text:") != std::string::npos);
  CHECK(why.find("Failed to validate") == std::string::npos); // the inner cause only
  CHECK((*schema)->check(json::parse(R"({"text":"a","items":[1,"x"]})")).find("$.items[1]:")
        != std::string::npos);
  CHECK((*schema)->check(json::parse("{}")).find("text") != std::string::npos);
  CHECK(!compiled_schema::compile(json::parse(R"({"type":"object","required":5})")));
}

TEST_CASE("URI templates match one segment per variable", "[mcp]") {
  std::map<std::string, std::string> vars;
  CHECK(match_template("cairn://actors/{id}", "cairn://actors/order%2Fo1", vars));
  CHECK(vars["id"] == "order%2Fo1");
  vars.clear();
  CHECK(match_template("cairn://actors/{id}/journal", "cairn://actors/a%2Fb/journal", vars));
  CHECK(vars["id"] == "a%2Fb");
  CHECK_FALSE(match_template("cairn://actors/{id}", "cairn://actors/a/journal", vars));
  CHECK_FALSE(match_template("test://template/{id}/data", "test://template//data", vars));
}

TEST_CASE("tool declarations are checked with the field at fault", "[mcp]") {
  auto ok = tools_from_config(json::parse(
    R"([{"name":"wc","description":"Counts words","type":"exec","command":["/usr/bin/wc"]}])"));
  REQUIRE(ok);
  CHECK(ok->size() == 1);
  auto render_of = [](const char* text) {
    auto r = tools_from_config(json::parse(text));
    return r ? std::string{} : cairn::render(r.error());
  };
  CHECK(render_of(R"([{"name":"wc","type":"exec","command":["/usr/bin/wc"]}])").find("description")
        != std::string::npos);
  CHECK(render_of(R"([{"name":"wc","description":"d","type":"exec","command":["wc"]}])")
          .find("absolute")
        != std::string::npos);
  CHECK(
    render_of(R"([{"name":"a b","description":"d","type":"exec","command":["/x"]}])").find("'name'")
    != std::string::npos);
  CHECK(render_of(R"([{"name":"h","description":"d","type":"http","url":"https://x/"}])")
          .find("https is not supported")
        != std::string::npos);
  CHECK(render_of(R"([{"name":"h","description":"d","type":"exec","command":["/x"],"colour":1}])")
          .find("unknown field 'colour'")
        != std::string::npos);
}
