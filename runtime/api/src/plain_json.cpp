// SPDX-License-Identifier: Apache-2.0
// JSON with plain numbers (see plain_json.hpp).
#include "cairn/plain_json.hpp"

#include <charconv>
#include <cmath>

#include <boost/json.hpp>

namespace cairn {

namespace json = boost::json;

namespace {

void write_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  // The largest double has 309 integer digits; the shortest round-trip
  // fixed form never needs more than that plus its fraction.
  char buf[1100];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

void write(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: write_double(out, v.get_double()); return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first)
          out += ',';
        first = false;
        write(out, x);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, x] : v.get_object()) {
        if (!first)
          out += ',';
        first = false;
        out += json::serialize(key);
        out += ':';
        write(out, x);
      }
      out += '}';
      return;
    }
    default: out += json::serialize(v); return;
  }
}

} // namespace

std::string serialize_plain(const json::value& v) {
  std::string out;
  write(out, v);
  return out;
}

} // namespace cairn
