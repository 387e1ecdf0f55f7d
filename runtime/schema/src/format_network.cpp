// SPDX-License-Identifier: Apache-2.0
// ipv4 (RFC 2673 dotted quad), ipv6 (RFC 4291), hostname (RFC 1123, with A-labels checked as
// IDNA2008 U-labels), idn-hostname (RFC 5890/5891/5892, approximated: see is_u_label), email
// (RFC 5321 Mailbox) and idn-email (RFC 6531).
#include "internal/format_checks.hpp"

#include "internal/unicode_tables.hpp"
#include "internal/utf8.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace cairn::schema::internal {

namespace {

bool in_table(std::string_view table, char32_t c) {
  auto ranges = unicode_property(table);
  if (!ranges)
    return false;
  auto it = std::upper_bound(ranges->begin(), ranges->end(), c,
                             [](char32_t v, const code_range& r) { return v < r.first; });
  return it != ranges->begin() && c <= std::prev(it)->last;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3492 Punycode decoding of the part after "xn--".
std::optional<std::u32string> punycode_decode(std::string_view in) {
  constexpr std::uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  std::u32string out;
  auto delim = in.rfind('-');
  std::size_t pos = 0;
  if (delim != std::string_view::npos) {
    for (std::size_t i = 0; i < delim; ++i) {
      if (static_cast<unsigned char>(in[i]) >= 0x80)
        return std::nullopt;
      out += static_cast<char32_t>(in[i]);
    }
    pos = delim + 1;
  }
  std::uint32_t n = 128, i = 0, bias = 72;
  while (pos < in.size()) {
    std::uint32_t old_i = i, w = 1;
    for (std::uint32_t k = base;; k += base) {
      if (pos >= in.size())
        return std::nullopt;
      char c = in[pos++];
      std::uint32_t digit = is_digit(c)              ? static_cast<std::uint32_t>(c - '0' + 26)
                            : (c >= 'a' && c <= 'z') ? static_cast<std::uint32_t>(c - 'a')
                            : (c >= 'A' && c <= 'Z') ? static_cast<std::uint32_t>(c - 'A')
                                                     : base;
      if (digit >= base || digit > (0xFFFFFFFFu - i) / w)
        return std::nullopt;
      i += digit * w;
      std::uint32_t t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias);
      if (digit < t)
        break;
      if (w > 0xFFFFFFFFu / (base - t))
        return std::nullopt;
      w *= base - t;
    }
    auto len = static_cast<std::uint32_t>(out.size() + 1);
    std::uint32_t delta = old_i == 0 ? (i - old_i) / damp : (i - old_i) / 2;
    delta += delta / len;
    std::uint32_t k = 0;
    while (delta > ((base - tmin) * tmax) / 2) {
      delta /= base - tmin;
      k += base;
    }
    bias = k + (base - tmin + 1) * delta / (delta + skew);
    if (i / len > 0x10FFFF - n)
      return std::nullopt;
    n += i / len;
    i %= len;
    if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
      return std::nullopt;
    out.insert(out.begin() + i, static_cast<char32_t>(n));
    ++i;
  }
  return out;
}

bool in(char32_t c, char32_t lo, char32_t hi) {
  return c >= lo && c <= hi;
}
bool greek(char32_t c) {
  return in(c, 0x370, 0x3FF) || in(c, 0x1F00, 0x1FFF);
}
bool hebrew(char32_t c) {
  return in(c, 0x590, 0x5FF);
}
bool kana_or_han(char32_t c) {
  return (in(c, 0x3040, 0x30FF) && c != 0x30FB) || in(c, 0x31F0, 0x31FF) || in(c, 0x3400, 0x4DBF)
         || in(c, 0x4E00, 0x9FFF) || in(c, 0xF900, 0xFAFF) || in(c, 0x20000, 0x3FFFF) || c == 0x3005
         || c == 0x3007;
}
// Approximate Arabic joining types for the ZERO WIDTH NON-JOINER rule of RFC 5892 A.1.
bool joins_left(char32_t c) { // D or L
  return c == 0x620 || c == 0x626 || c == 0x628 || in(c, 0x62A, 0x62E) || in(c, 0x633, 0x63F)
         || in(c, 0x641, 0x647) || in(c, 0x649, 0x64A) || in(c, 0x66E, 0x66F) || in(c, 0x678, 0x687)
         || in(c, 0x69A, 0x6BF) || in(c, 0x6C1, 0x6C2) || c == 0x6CC || c == 0x6CE
         || in(c, 0x6D0, 0x6D1) || in(c, 0x6FA, 0x6FC) || c == 0x6FF || in(c, 0x750, 0x77F);
}
bool joins_right(char32_t c) { // D or R
  return joins_left(c) || in(c, 0x622, 0x625) || c == 0x627 || c == 0x629 || in(c, 0x62F, 0x632)
         || c == 0x648 || in(c, 0x671, 0x677) || in(c, 0x688, 0x699) || c == 0x6C0
         || in(c, 0x6C3, 0x6CB) || c == 0x6CD || c == 0x6CF || in(c, 0x6D2, 0x6D3);
}

// IDNA2008 checks on a U-label: no leading mark, no "--" at positions 3-4, no leading or
// trailing hyphen, RFC 5892's exceptions and CONTEXTJ/CONTEXTO rules. Not checked: NFC and the
// full derived property table (DISALLOWED code points outside the exception list pass).
bool is_u_label(const std::u32string& l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-')
    return false;
  if (l.size() >= 4 && l[2] == '-' && l[3] == '-')
    return false;
  if (in_table("M", l.front()))
    return false;
  bool arabic_indic = false;
  bool extended_arabic_indic = false;
  for (std::size_t i = 0; i < l.size(); ++i) {
    char32_t c = l[i];
    char32_t prev = i > 0 ? l[i - 1] : 0;
    char32_t next = i + 1 < l.size() ? l[i + 1] : 0;
    if (c < 0x80) {
      if (!(is_alpha(static_cast<char>(c)) || is_digit(static_cast<char>(c)) || c == '-'))
        return false;
      continue;
    }
    if (c == 0x640 || c == 0x7FA || c == 0x302E || c == 0x302F || in(c, 0x3031, 0x3035)
        || c == 0x303B)
      return false;
    bool punctuation_exception = c == 0xB7 || c == 0x5F3 || c == 0x5F4 || c == 0x30FB || c == 0xF0B;
    if (in_table("Lu", c) || in_table("Z", c) || (in_table("P", c) && !punctuation_exception))
      return false;
    if (c == 0xB7 && (prev != 'l' || next != 'l'))
      return false;
    if (c == 0x375 && !greek(next))
      return false;
    if ((c == 0x5F3 || c == 0x5F4) && !hebrew(prev))
      return false;
    if (c == 0x30FB && std::none_of(l.begin(), l.end(), kana_or_han))
      return false;
    arabic_indic |= in(c, 0x660, 0x669);
    extended_arabic_indic |= in(c, 0x6F0, 0x6F9);
    if (c == 0x200D && !in_table("Virama", prev))
      return false;
    if (c == 0x200C && !in_table("Virama", prev)) {
      std::size_t b = i;
      while (b > 0 && in_table("M", l[b - 1]))
        --b;
      std::size_t a = i + 1;
      while (a < l.size() && in_table("M", l[a]))
        ++a;
      if (b == 0 || !joins_left(l[b - 1]) || a >= l.size() || !joins_right(l[a]))
        return false;
    }
  }
  return !(arabic_indic && extended_arabic_indic);
}

bool is_ascii_label(std::string_view l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-')
    return false;
  for (char c : l)
    if (!is_alpha(c) && !is_digit(c) && c != '-')
      return false;
  if (l.size() >= 4 && (l[0] == 'x' || l[0] == 'X') && (l[1] == 'n' || l[1] == 'N') && l[2] == '-'
      && l[3] == '-') {
    auto decoded = punycode_decode(l.substr(4));
    return decoded && !decoded->empty() && is_u_label(*decoded);
  }
  return !(l.size() >= 4 && l[2] == '-' && l[3] == '-');
}

bool is_domain(std::string_view s, bool idn) {
  if (s.empty() || s.size() > 253)
    return false;
  std::u32string text = utf8_decode<std::u32string>(s);
  std::vector<std::u32string> labels(1);
  for (char32_t c : text) {
    if (c == '.' || (idn && (c == 0x3002 || c == 0xFF0E || c == 0xFF61)))
      labels.emplace_back();
    else
      labels.back() += c;
  }
  for (const auto& label : labels) {
    bool ascii = std::all_of(label.begin(), label.end(), [](char32_t c) { return c < 0x80; });
    if (ascii) {
      std::string narrow(label.begin(), label.end());
      if (!is_ascii_label(narrow))
        return false;
    } else if (!idn || !is_u_label(label)) {
      return false;
    }
  }
  return true;
}

bool is_atext(char c) {
  return is_alpha(c) || is_digit(c)
         || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_mailbox(std::string_view s, bool idn) {
  auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size())
    return false;
  std::string_view local = s.substr(0, at);
  std::string_view domain = s.substr(at + 1);
  if (local.front() == '"') {
    if (local.size() < 2 || local.back() != '"')
      return false;
    for (std::size_t i = 1; i + 1 < local.size(); ++i) {
      auto c = static_cast<unsigned char>(local[i]);
      if (c == '\\') {
        ++i;
        if (i + 1 >= local.size())
          return false;
      } else if (c == '"' || (c < 0x20 && c != '\t') || (c >= 0x80 && !idn)) {
        return false;
      }
    }
  } else {
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
      return false;
    for (char c : local)
      if (c != '.' && !is_atext(c) && !(idn && static_cast<unsigned char>(c) >= 0x80))
        return false;
  }
  if (domain.front() == '[') {
    if (domain.back() != ']')
      return false;
    std::string_view literal = domain.substr(1, domain.size() - 2);
    if (literal.substr(0, 5) == "IPv6:")
      return is_ipv6(literal.substr(5));
    return is_ipv4(literal);
  }
  return is_domain(domain, idn);
}

} // namespace

bool is_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t pos = 0;
  while (true) {
    std::size_t start = pos;
    int value = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < 4)
      value = value * 10 + (s[pos++] - '0');
    std::size_t len = pos - start;
    if (len == 0 || len > 3 || value > 255 || (len > 1 && s[start] == '0'))
      return false;
    if (++parts == 4)
      return pos == s.size();
    if (pos >= s.size() || s[pos] != '.')
      return false;
    ++pos;
  }
}

bool is_ipv6(std::string_view s) {
  if (s.empty())
    return false;
  int groups = 0;
  bool compressed = false;
  std::size_t pos = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    pos = 2;
    if (pos == s.size())
      return true;
  } else if (s[0] == ':') {
    return false;
  }
  while (pos < s.size()) {
    std::size_t start = pos;
    while (pos < s.size() && is_hex(s[pos]) && pos - start < 5)
      ++pos;
    if (pos < s.size() && s[pos] == '.') {
      // Trailing dotted quad counts two groups.
      if (!is_ipv4(s.substr(start)))
        return false;
      groups += 2;
      break;
    }
    std::size_t len = pos - start;
    if (len == 0 || len > 4)
      return false;
    ++groups;
    if (pos == s.size())
      break;
    if (s[pos] != ':')
      return false;
    ++pos;
    if (pos < s.size() && s[pos] == ':') {
      if (compressed)
        return false;
      compressed = true;
      ++pos;
      if (pos == s.size())
        break;
    } else if (pos == s.size()) {
      return false;
    }
  }
  return compressed ? groups < 8 : groups == 8;
}

bool is_hostname(std::string_view s) {
  return is_domain(s, false);
}
bool is_idn_hostname(std::string_view s) {
  return is_domain(s, true);
}
bool is_email(std::string_view s) {
  return is_mailbox(s, false);
}
bool is_idn_email(std::string_view s) {
  return is_mailbox(s, true);
}

} // namespace cairn::schema::internal
