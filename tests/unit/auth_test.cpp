// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "cairn/auth.hpp"
#include "cairn/error.hpp"

using namespace cairn;

TEST_CASE("API tokens parse as SECRET:scopes and refuse unknown scopes", "[auth]") {
  auto t = auth::parse_api_token("se:cret:read,write");
  REQUIRE(t);
  CHECK(t->secret == "se:cret");
  CHECK(t->scopes == std::set<std::string>{"read", "write"});
  CHECK(t->tools.empty());
  auto bad_scope = auth::parse_api_token("s:read,root");
  REQUIRE_FALSE(bad_scope);
  CHECK(code_of(bad_scope.error()) == errc::invalid_argument);
  CHECK(render(bad_scope.error()).find("scope 'root' is not read, write, admin or approve")
        != std::string::npos);
  for (const char* malformed : {"secret", ":read", "secret:"}) {
    auto r = auth::parse_api_token(malformed);
    REQUIRE_FALSE(r);
    CHECK(render(r.error()).find("is not SECRET:scope") != std::string::npos);
  }
}

TEST_CASE("MCP tokens parse as SECRET:globs", "[auth]") {
  auto t = auth::parse_tool_token("agent:word_count,create_*");
  REQUIRE(t);
  CHECK(t->secret == "agent");
  CHECK(t->tools == std::vector<std::string>{"word_count", "create_*"});
  auto bad = auth::parse_tool_token("agent");
  REQUIRE_FALSE(bad);
  CHECK(render(bad.error()).find("is not SECRET:TOOL-GLOB") != std::string::npos);
}

TEST_CASE("a bearer secret comes only from the Bearer scheme", "[auth]") {
  CHECK(auth::bearer_secret("Bearer abc") == std::optional<std::string_view>{"abc"});
  CHECK_FALSE(auth::bearer_secret("Bearer "));
  CHECK_FALSE(auth::bearer_secret("Basic YWJj"));
  CHECK_FALSE(auth::bearer_secret("bearerabc"));
  CHECK_FALSE(auth::bearer_secret(""));
}

TEST_CASE("scopes nest: admin grants write, write grants read", "[auth]") {
  auth::token r{"r", {"read"}, {}}, w{"w", {"write"}, {}}, a{"a", {"admin"}, {}};
  CHECK(auth::grants(r, "read"));
  CHECK_FALSE(auth::grants(r, "write"));
  CHECK(auth::grants(w, "read"));
  CHECK(auth::grants(w, "write"));
  CHECK_FALSE(auth::grants(w, "admin"));
  CHECK(auth::grants(a, "admin"));
  CHECK(auth::grants(a, "read"));
}

TEST_CASE("a token is found by its secret among several, and only by it", "[auth]") {
  std::vector<auth::token> tokens{{"alpha", {"read"}, {}}, {"beta", {"write"}, {}}};
  REQUIRE(auth::find_token(tokens, "beta") != nullptr);
  CHECK(auth::find_token(tokens, "beta")->secret == "beta");
  CHECK(auth::find_token(tokens, "bet") == nullptr);
  CHECK(auth::find_token(tokens, "betaa") == nullptr);
  CHECK(auth::find_token(tokens, "") == nullptr);
}

TEST_CASE("/mcp is governed by MCP tokens if any, else by the API tokens", "[auth]") {
  std::vector<auth::token> api{{"r", {"read"}, {}}, {"w", {"write"}, {}}, {"a", {"admin"}, {}}};
  std::vector<auth::token> tools{{"agent", {}, {"echo"}}};
  auto own = auth::mcp_tokens(api, tools);
  REQUIRE(own.size() == 1);
  CHECK(own[0].secret == "agent");
  auto derived = auth::mcp_tokens(api, {});
  REQUIRE(derived.size() == 3);
  CHECK(derived[0].tools.empty()); // read-only: may connect, calls nothing
  CHECK(derived[1].tools == std::vector<std::string>{"*"});
  CHECK(derived[2].tools == std::vector<std::string>{"*"});
  CHECK(auth::mcp_tokens({}, {}).empty());
}
