// SPDX-License-Identifier: Apache-2.0
// uri and uri-reference (RFC 3986), iri and iri-reference (RFC 3987), uri-template (RFC 6570).
#include "internal/format_checks.hpp"

#include "internal/utf8.hpp"

#include <string>

namespace cairn::schema::internal {

namespace {

bool is_digit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_unreserved(char32_t c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char32_t c) {
  return std::u32string_view(U"!$&'()*+,;=").find(c) != std::u32string_view::npos;
}
// RFC 3987 ucschar (and iprivate, allowed in queries; accepted everywhere here).
bool is_ucschar(char32_t c) {
  return (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFEF)
         || (c >= 0xE000 && c <= 0xF8FF)
         || (c >= 0x10000 && c <= 0x10FFFD && (c & 0xFFFE) != 0xFFFE);
}

// Every character of `s` is unreserved, sub-delim, pct-encoded, or in `extra`.
bool chars_ok(std::u32string_view s, std::u32string_view extra, bool iri) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size())
        return false;
      if (!is_hex(s[i + 1]) || !is_hex(s[i + 2]))
        return false;
      i += 2;
      continue;
    }
    if (is_unreserved(c) || is_sub_delim(c) || extra.find(c) != std::u32string_view::npos)
      continue;
    if (iri && is_ucschar(c))
      continue;
    return false;
  }
  return true;
}

bool ipv6_literal(std::u32string_view host) {
  std::string narrow;
  for (char32_t c : host) {
    if (c >= 0x80)
      return false;
    narrow += static_cast<char>(c);
  }
  if (!narrow.empty() && (narrow[0] == 'v' || narrow[0] == 'V')) {
    auto dot = narrow.find('.');
    if (dot == std::string::npos || dot < 2 || dot + 1 == narrow.size())
      return false;
    for (std::size_t i = 1; i < dot; ++i)
      if (!is_hex(static_cast<char32_t>(narrow[i])))
        return false;
    return chars_ok(host.substr(dot + 1), U":", false);
  }
  return is_ipv6(narrow);
}

bool authority_ok(std::u32string_view a, bool iri) {
  auto at = a.rfind('@');
  if (at != std::u32string_view::npos) {
    if (!chars_ok(a.substr(0, at), U":", iri))
      return false;
    a = a.substr(at + 1);
  }
  std::u32string_view host = a;
  std::u32string_view port;
  if (!a.empty() && a[0] == '[') {
    auto close = a.find(']');
    if (close == std::u32string_view::npos || !ipv6_literal(a.substr(1, close - 1)))
      return false;
    host = {};
    std::u32string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':')
        return false;
      port = rest.substr(1);
    }
  } else if (auto colon = a.rfind(':'); colon != std::u32string_view::npos) {
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  for (char32_t c : port)
    if (!is_digit(c))
      return false;
  // A dotted quad that is not a valid IPv4 address is still a valid reg-name.
  return chars_ok(host, U"", iri);
}

bool reference_ok(std::string_view text, bool iri, bool allow_relative) {
  std::u32string s = utf8_decode<std::u32string>(text);
  std::u32string_view v(s);
  // scheme
  auto first_special = v.find_first_of(U":/?#");
  bool has_scheme = false;
  if (first_special != std::u32string_view::npos && v[first_special] == ':') {
    std::u32string_view scheme = v.substr(0, first_special);
    if (scheme.empty() || !is_alpha(scheme[0]))
      return false;
    for (char32_t c : scheme)
      if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
        return false;
    has_scheme = true;
    v = v.substr(first_special + 1);
  }
  if (!has_scheme && !allow_relative)
    return false;
  if (auto hash = v.find('#'); hash != std::u32string_view::npos) {
    if (!chars_ok(v.substr(hash + 1), U":@/?", iri))
      return false;
    v = v.substr(0, hash);
  }
  if (auto q = v.find('?'); q != std::u32string_view::npos) {
    if (!chars_ok(v.substr(q + 1), U":@/?", iri))
      return false;
    v = v.substr(0, q);
  }
  if (v.substr(0, 2) == U"//") {
    v = v.substr(2);
    auto slash = v.find('/');
    if (!authority_ok(v.substr(0, slash), iri))
      return false;
    v = slash == std::u32string_view::npos ? std::u32string_view{} : v.substr(slash);
  }
  return chars_ok(v, U":@/", iri);
}

bool is_varchar_start(std::string_view s, std::size_t i) {
  char c = s[i];
  if (c == '%')
    return i + 2 < s.size() && is_hex(static_cast<unsigned char>(s[i + 1]))
           && is_hex(static_cast<unsigned char>(s[i + 2]));
  return is_alpha(static_cast<unsigned char>(c)) || is_digit(static_cast<unsigned char>(c))
         || c == '_';
}

bool varspec_ok(std::string_view v) {
  std::size_t i = 0;
  bool need_char = true;
  while (i < v.size() && v[i] != ':' && v[i] != '*') {
    if (v[i] == '.') {
      if (need_char)
        return false;
      need_char = true;
      ++i;
      continue;
    }
    if (!is_varchar_start(v, i))
      return false;
    i += v[i] == '%' ? 3 : 1;
    need_char = false;
  }
  if (need_char)
    return false;
  if (i == v.size())
    return true;
  if (v[i] == '*')
    return i + 1 == v.size();
  std::string_view len = v.substr(i + 1);
  if (len.empty() || len.size() > 4 || len[0] == '0')
    return false;
  for (char c : len)
    if (!is_digit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

} // namespace

bool is_uri(std::string_view s) {
  return reference_ok(s, false, false);
}
bool is_uri_reference(std::string_view s) {
  return reference_ok(s, false, true);
}
bool is_iri(std::string_view s) {
  return reference_ok(s, true, false);
}
bool is_iri_reference(std::string_view s) {
  return reference_ok(s, true, true);
}

bool is_uri_template(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '{') {
      auto close = s.find('}', i);
      if (close == std::string_view::npos)
        return false;
      std::string_view expr = s.substr(i + 1, close - i - 1);
      if (!expr.empty() && std::string_view("+#./;?&").find(expr[0]) != std::string_view::npos)
        expr.remove_prefix(1);
      if (expr.empty())
        return false;
      std::size_t start = 0;
      while (true) {
        auto comma = expr.find(',', start);
        if (!varspec_ok(expr.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                           : comma - start)))
          return false;
        if (comma == std::string_view::npos)
          break;
        start = comma + 1;
      }
      i = close;
      continue;
    }
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(static_cast<unsigned char>(s[i + 1]))
          || !is_hex(static_cast<unsigned char>(s[i + 2])))
        return false;
      i += 2;
      continue;
    }
    if (c <= 0x20 || c == 0x7F
        || std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  }
  return true;
}

} // namespace cairn::schema::internal
