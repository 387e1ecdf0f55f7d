// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "cairn/error.hpp"
#include "cairn/http.hpp"

// The node API's answers: RFC 9457 problems, JSON bodies, runtime errors
// mapped to statuses, and strict query parameters. Plain functions: any
// thread.
namespace cairn::api {

/// An `application/problem+json` answer with a stable `code`.
http_response problem(unsigned status, std::string code, std::string detail,
                      std::vector<std::pair<std::string, std::string>> headers = {});

/// A JSON answer.
http_response json_response(unsigned status, const boost::json::value& v);

/// Maps a runtime error to its HTTP status and problem; `starting`: the
/// node has not finished starting, so a refusal is `starting`, not
/// `shutting_down`.
http_response from_error(const caf::error& err, bool starting = false);

/// A parsed query string, or why it is malformed. A plain value.
struct query_params {
  std::map<std::string, std::string> values;
  std::string error;
};

/// Parses `a=1&b=x%2Fy` (RFC 3986: `+` is a plus); a malformed escape or a
/// parameter given twice is an error.
query_params parse_query(std::string_view q);

/// Parses an integer query parameter from `min` to `max` (plain decimal
/// digits only: no sign, space or overflow), or fails with a 400 in `error`.
bool number_param(const std::map<std::string, std::string>& q, const std::string& name,
                  uint64_t fallback, uint64_t min, uint64_t max, uint64_t& out,
                  http_response& error);

} // namespace cairn::api
