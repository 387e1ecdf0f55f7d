// SPDX-License-Identifier: Apache-2.0
#include "cairn/auth.hpp"

#include "cairn/error.hpp"
#include "cairn/text_codec.hpp"

namespace cairn::auth {

namespace {

// Splits `SECRET:a,b,c` at the last colon (a secret may hold colons, scopes
// and globs do not).
bool split_spec(std::string_view spec, std::string& secret, std::vector<std::string>& items) {
  auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size())
    return false;
  secret = std::string{spec.substr(0, colon)};
  auto list = spec.substr(colon + 1);
  for (size_t pos = 0; pos <= list.size();) {
    auto comma = list.find(',', pos);
    items.emplace_back(list.substr(pos, comma - pos));
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return true;
}

} // namespace

caf::expected<token> parse_api_token(std::string_view spec) {
  token t;
  std::vector<std::string> scopes;
  if (!split_spec(spec, t.secret, scopes))
    return make_error(errc::invalid_argument,
                      "--token '" + std::string{spec} + "' is not SECRET:scope[,scope...]");
  for (auto& s : scopes) {
    if (s != "read" && s != "write" && s != "admin" && s != "approve")
      return make_error(errc::invalid_argument,
                        "--token scope '" + s + "' is not read, write, admin or approve");
    t.scopes.insert(std::move(s));
  }
  return t;
}

caf::expected<token> parse_tool_token(std::string_view spec) {
  token t;
  if (!split_spec(spec, t.secret, t.tools))
    return make_error(errc::invalid_argument, "--mcp-token '" + std::string{spec}
                                                + "' is not SECRET:TOOL-GLOB[,TOOL-GLOB...]");
  return t;
}

std::optional<std::string_view> bearer_secret(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.substr(0, scheme.size()) != scheme || authorization.size() == scheme.size())
    return std::nullopt;
  return authorization.substr(scheme.size());
}

bool grants(const token& t, std::string_view scope) {
  // `approve` is granted only by itself: deciding on a plan's step is not
  // an administrator's side job.
  if (scope == "approve")
    return t.scopes.count("approve") != 0;
  if (t.scopes.count("admin"))
    return true;
  if (scope == "read" && (t.scopes.count("write") || t.scopes.count("approve")))
    return true;
  return t.scopes.count(std::string{scope}) != 0;
}

std::vector<token> mcp_tokens(const std::vector<token>& api_tokens,
                              const std::vector<token>& tool_tokens) {
  if (!tool_tokens.empty())
    return tool_tokens;
  std::vector<token> out;
  for (const auto& t : api_tokens) {
    token m = t;
    // Calling a tool is a write (it runs a durable command with side effects).
    m.tools = grants(t, "write") ? std::vector<std::string>{"*"} : std::vector<std::string>{};
    out.push_back(std::move(m));
  }
  return out;
}

bool secret_matches(std::string_view secret, std::string_view presented) {
  return constant_time_equal(secret, presented);
}

} // namespace cairn::auth
