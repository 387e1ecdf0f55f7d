// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

// One token model for everything a node serves over HTTP: the node API and
// `/mcp`. A token is a secret plus what it grants: node API scopes (`read`,
// `write`, `admin`) and MCP tool globs. Plain functions and values: any
// thread may call them at any time.
namespace cairn::auth {

/// A bearer token: its secret, the node API scopes it grants (`admin`
/// implies `write`, which implies `read`) and the MCP tools it may list and
/// call (`*` and `?` globs; empty: none). A plain value.
struct token {
  std::string secret;             ///< what the client presents as `Bearer SECRET`
  std::set<std::string> scopes;   ///< node API scopes as written (see `grants`)
  std::vector<std::string> tools; ///< MCP tool name globs it may list and call
};

/// Parses a node API token, `SECRET:scope[,scope...]` (scopes `read`,
/// `write`, `admin`, `approve`); the error (`invalid_argument`) says what is wrong.
caf::expected<token> parse_api_token(std::string_view spec);

/// Parses an MCP token, `SECRET:TOOL-GLOB[,TOOL-GLOB...]`.
caf::expected<token> parse_tool_token(std::string_view spec);

/// The secret of an `Authorization: Bearer SECRET` header value; nothing
/// for any other scheme or an empty secret.
std::optional<std::string_view> bearer_secret(std::string_view authorization);

/// True if `t` grants node API scope `scope` (`read`, `write`, `admin`;
/// `approve`, deciding on plan approvals, is granted only by itself and
/// implies `read`).
bool grants(const token& t, std::string_view scope);

/// The tokens that govern `/mcp`: `tool_tokens` if any are configured;
/// else the node API tokens, a token with `write` (or `admin`) calling every
/// tool and a `read`-only token none; else none (`/mcp` is open, as on a
/// loopback node without tokens).
std::vector<token> mcp_tokens(const std::vector<token>& api_tokens,
                              const std::vector<token>& tool_tokens);

/// `constant_time_equal` (text_codec.hpp), for `find_token`.
bool secret_matches(std::string_view secret, std::string_view presented);

/// The token of `tokens` whose secret is `presented`, or null. Compares
/// against every token in constant time (no early exit on a match or a
/// mismatch), so timing tells a client nothing about the secrets. `Token`
/// is any type with a `secret` string member.
template <class Token>
const Token* find_token(const std::vector<Token>& tokens, std::string_view presented) {
  const Token* found = nullptr;
  for (const auto& t : tokens)
    if (secret_matches(t.secret, presented))
      found = &t;
  return found;
}

} // namespace cairn::auth
