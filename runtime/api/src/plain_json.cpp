// SPDX-License-Identifier: Apache-2.0
// JSON with plain numbers (see plain_json.hpp).
#include "cairn/plain_json.hpp"

#include <charconv>
#include <cmath>

#include <boost/json.hpp>

#include "cairn/json_text.hpp"

namespace cairn {

namespace bj = boost::json;

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

void write(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::double_: write_double(out, v.get_double()); return;
    case bj::kind::array: {
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
    case bj::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, x] : v.get_object()) {
        if (!first)
          out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        write(out, x);
      }
      out += '}';
      return;
    }
    case bj::kind::string: append_json_string(out, v.get_string()); return;
    default: out += bj::serialize(v); return;
  }
}

} // namespace

std::string serialize_plain(const bj::value& v) {
  std::string out;
  write(out, v);
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t plain = 0; // the start of the run of characters written as they are
  // Many bytes at a time while none needs escaping (a batch's answer writes
  // an id per message, on the commit thread), then byte by byte.
  size_t i = json::plain_run(s.data(), s.size());
  for (; i < s.size(); ++i) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (c != '"' && c != '\\' && u >= 0x20)
      continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[u >> 4];
        out += hex[u & 0xf];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

} // namespace cairn
