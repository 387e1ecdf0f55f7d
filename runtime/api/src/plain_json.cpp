// SPDX-License-Identifier: Apache-2.0
// JSON with plain numbers (see plain_json.hpp).
#include "cairn/plain_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

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
        append_json_string(out, key);
        out += ':';
        write(out, x);
      }
      out += '}';
      return;
    }
    case json::kind::string: append_json_string(out, v.get_string()); return;
    default: out += json::serialize(v); return;
  }
}

} // namespace

std::string serialize_plain(const json::value& v) {
  std::string out;
  write(out, v);
  return out;
}

namespace {

/// True if one of the eight bytes of `x` is a control, a quote or a
/// backslash: the bytes JSON escapes (each test is the classic "has a zero
/// byte" on a transformed word; bytes of 0x80 and above never match).
constexpr bool escape_in(uint64_t x) {
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto zero_in = [](uint64_t v) { return (v - ones) & ~v & highs; };
  uint64_t control = (x - 0x20 * ones) & ~x & highs; // a byte below 0x20
  return (control | zero_in(x ^ (ones * '"')) | zero_in(x ^ (ones * '\\'))) != 0;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t plain = 0; // the start of the run of characters written as they are
  size_t i = 0;
  // Eight bytes at a time while none needs escaping (a batch's answer writes
  // an id per message, on the commit thread), then byte by byte.
  for (uint64_t word = 0; i + 8 <= s.size(); i += 8) {
    std::memcpy(&word, s.data() + i, 8);
    if (escape_in(word))
      break;
  }
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
