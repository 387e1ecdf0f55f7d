// SPDX-License-Identifier: Apache-2.0
// RFC 9457 problems, JSON answers and query parameters of the node API.
#include "internal/problem.hpp"

#include <boost/json.hpp>

#include "cairn/plain_json.hpp"
#include "cairn/text_codec.hpp"

namespace cairn::api {

namespace json = boost::json;

http_response problem(unsigned status, std::string code, std::string detail,
                      std::vector<std::pair<std::string, std::string>> headers) {
  json::object o;
  o["type"] = "about:blank";
  o["title"] = code;
  o["status"] = status;
  o["code"] = code;
  o["detail"] = detail;
  return http_response{status, "application/problem+json", serialize_plain(o), std::move(headers),
                       nullptr};
}

http_response json_response(unsigned status, const json::value& v) {
  return http_response{status, "application/json", serialize_plain(v), {}, nullptr};
}

namespace {

// A refusal's detail says the same wait as its Retry-After header: the
// runtime's own hint ("retry after 100 ms") is finer than HTTP can say.
std::string with_retry_after(std::string detail, int seconds) {
  if (auto pos = detail.find("; retry after"); pos != std::string::npos)
    detail.erase(pos);
  return detail + "; retry after " + std::to_string(seconds) + " s";
}

} // namespace

http_response from_error(const caf::error& err, bool starting) {
  auto detail = render(err);
  switch (code_of(err)) {
    case errc::busy:
      return problem(429, "busy", with_retry_after(detail, 1), {{"Retry-After", "1"}});
    case errc::shutting_down:
      // The runtime refuses work the same way before and after it runs;
      // only the node knows which of the two it is.
      if (starting)
        return problem(503, "starting",
                       "the node is starting (recovering its data) and does not accept this yet; "
                       "retry after 1 s",
                       {{"Retry-After", "1"}});
      return problem(503, "shutting_down", detail, {{"Retry-After", "1"}});
    case errc::storage_write_failed:
      return problem(503, "storage_write_failed", detail, {{"Retry-After", "1"}});
    case errc::not_found: return problem(404, "not_found", detail);
    case errc::unknown_actor_kind: return problem(404, "unknown_actor_kind", detail);
    case errc::invalid_argument: return problem(400, "invalid_argument", detail);
    case errc::invalid_payload: return problem(422, "invalid_payload", detail);
    case errc::conflict: return problem(409, "conflict", detail);
    default: return problem(500, to_string(code_of(err)), detail);
  }
}

query_params parse_query(std::string_view q) {
  query_params out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>{std::string{}}
                                              : percent_decode(part.substr(eq + 1));
    if (!name || !value) {
      out.error = "malformed percent-encoding in query parameter '" + std::string{part} + "'";
      return out;
    }
    if (!name->empty() && !out.values.emplace(*name, *value).second) {
      out.error = "query parameter '" + *name + "' is given more than once";
      return out;
    }
    if (amp == std::string_view::npos)
      break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

bool number_param(const std::map<std::string, std::string>& q, const std::string& name,
                  uint64_t fallback, uint64_t min, uint64_t max, uint64_t& out,
                  http_response& error) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) {
    out = fallback;
    return true;
  }
  const auto& text = it->second;
  uint64_t v = 0;
  bool ok = text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    auto digit = static_cast<uint64_t>(text[i] - '0');
    ok = v <= (UINT64_MAX - digit) / 10;
    v = v * 10 + digit;
  }
  if (!ok || v < min || v > max) {
    error = problem(400, "invalid_parameter",
                    "query parameter '" + name + "' must be an integer from " + std::to_string(min)
                      + " to " + std::to_string(max));
    return false;
  }
  out = v;
  return true;
}

} // namespace cairn::api
