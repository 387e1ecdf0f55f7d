// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cairn::schema::internal {

/// Number of Unicode code points in a UTF-8 string (what `minLength`/`maxLength` count).
inline std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

/// Decodes UTF-8 into code points; malformed sequences become U+FFFD.
template <class String>
String utf8_decode(std::string_view s) {
  String out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    char32_t cp = 0xFFFD;
    std::size_t len = 1;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      out.push_back(static_cast<typename String::value_type>(0xFFFD));
      ++i;
      continue;
    }
    if (i + len > s.size()) {
      out.push_back(static_cast<typename String::value_type>(0xFFFD));
      break;
    }
    bool ok = true;
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80)
        ok = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!ok) {
      out.push_back(static_cast<typename String::value_type>(0xFFFD));
      ++i;
      continue;
    }
    out.push_back(static_cast<typename String::value_type>(cp));
    i += len;
  }
  return out;
}

} // namespace cairn::schema::internal
