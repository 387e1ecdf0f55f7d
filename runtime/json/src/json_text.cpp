// SPDX-License-Identifier: Apache-2.0
// The pull cursor over JSON text (json_text.hpp). It accepts a subset of
// what Boost.JSON accepts and declines the rest, so that a caller that falls
// back to Boost.JSON on a decline reads every text the same way.
#include "cairn/json_text.hpp"
#include "cairn/hex.hpp"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cairn::json {

namespace {

bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The length of the well-formed UTF-8 sequence at `s[0]` (a byte >= 0x80),
/// or 0 (overlong forms, surrogates and code points above U+10FFFF are not).
size_t utf8_length(std::string_view s) noexcept {
  auto b = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0U; };
  auto cont = [&](size_t i) { return (b(i) & 0xC0U) == 0x80U; };
  unsigned lead = b(0);
  if (lead >= 0xC2 && lead <= 0xDF)
    return cont(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    unsigned lo = lead == 0xE0 ? 0xA0 : 0x80, hi = lead == 0xED ? 0x9F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    unsigned lo = lead == 0xF0 ? 0x90 : 0x80, hi = lead == 0xF4 ? 0x8F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

} // namespace

// Many at a time while it can (a text string is mostly such runs); without
// SSE2, a word has none of the others when no byte is >= 0x80, < 0x20, '"'
// or '\\' (each test sets a byte's high bit).
size_t plain_run(const char* p, size_t n) noexcept {
  size_t i = 0;
#if defined(__SSE2__)
  // Sixteen at a time: a signed byte below 0x20 is a control character or
  // any byte >= 0x80.
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                space = _mm_set1_epi8(0x20);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i odd = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                               _mm_cmplt_epi8(v, space));
    if (int mask = _mm_movemask_epi8(odd); mask != 0)
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#else
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto zero_byte = [](uint64_t v) { return (v - ones) & ~v & highs; };
  for (; i + 8 <= n; i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, 8);
    uint64_t odd = (w & highs) | ((w - 0x20 * ones) & ~w & highs) | zero_byte(w ^ (0x22 * ones))
                   | zero_byte(w ^ (0x5C * ones));
    if (odd != 0)
      break;
  }
#endif
  for (; i < n; ++i) {
    auto u = static_cast<unsigned char>(p[i]);
    if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\')
      break;
  }
  return i;
}

bool text_cursor::ws() noexcept {
  while (at_ < text_.size() && is_ws(text_[at_]))
    ++at_;
  return at_ < text_.size();
}

bool text_cursor::at(char c) noexcept {
  return ok_ && ws() && text_[at_] == c;
}

bool text_cursor::take(char c) noexcept {
  if (!at(c))
    return false;
  ++at_;
  return true;
}

bool text_cursor::expect(char c) noexcept {
  return take(c) || decline();
}

bool text_cursor::at_end() noexcept {
  return ok_ && !ws();
}

bool text_cursor::open(char c) noexcept {
  if (++depth_ > max_depth)
    return decline();
  return expect(c);
}

bool text_cursor::close(char c) noexcept {
  --depth_;
  return expect(c);
}

bool text_cursor::plain_string(std::string_view& out) noexcept {
  if (!expect('"'))
    return false;
  size_t start = at_;
  while (at_ < text_.size()) {
    at_ += plain_run(text_.data() + at_, text_.size() - at_);
    if (at_ >= text_.size())
      break;
    auto u = static_cast<unsigned char>(text_[at_]);
    if (u == '"') {
      out = text_.substr(start, at_ - start);
      ++at_;
      return true;
    }
    if (u == '\\' || u < 0x20)
      return decline();
    if (u < 0x80) {
      ++at_;
      continue;
    }
    auto n = utf8_length(text_.substr(at_));
    if (n == 0)
      return decline();
    at_ += n;
  }
  return decline(); // unterminated
}

bool text_cursor::string(std::string& out) {
  if (!expect('"'))
    return false;
  out.clear();
  size_t run = at_; // the start of the bytes copied as they are
  while (at_ < text_.size()) {
    at_ += plain_run(text_.data() + at_, text_.size() - at_);
    if (at_ >= text_.size())
      break;
    auto u = static_cast<unsigned char>(text_[at_]);
    if (u == '"') {
      out.append(text_.data() + run, at_ - run);
      ++at_;
      return true;
    }
    if (u < 0x20)
      return decline();
    if (u >= 0x80) {
      auto n = utf8_length(text_.substr(at_));
      if (n == 0)
        return decline();
      at_ += n;
      continue;
    }
    if (u != '\\') {
      ++at_;
      continue;
    }
    out.append(text_.data() + run, at_ - run);
    if (++at_ >= text_.size())
      return decline();
    char e = text_[at_++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto unit = [&](uint32_t& v) {
          if (at_ + 4 > text_.size())
            return false;
          v = 0;
          for (int i = 0; i < 4; ++i) {
            int d = hex_digit(text_[at_ + i]);
            if (d < 0)
              return false;
            v = v * 16 + static_cast<uint32_t>(d);
          }
          at_ += 4;
          return true;
        };
        uint32_t cp = 0;
        if (!unit(cp) || (cp >= 0xDC00 && cp <= 0xDFFF))
          return decline(); // a lone trailing surrogate
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low = 0;
          if (at_ + 2 > text_.size() || text_[at_] != '\\' || text_[at_ + 1] != 'u')
            return decline();
          at_ += 2;
          if (!unit(low) || low < 0xDC00 || low > 0xDFFF)
            return decline();
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default: return decline();
    }
    run = at_;
  }
  return decline(); // unterminated
}

bool text_cursor::literal(std::string_view word) noexcept {
  if (!ok_ || !ws() || text_.substr(at_, word.size()) != word)
    return false;
  at_ += word.size();
  return true;
}

bool text_cursor::boolean(bool& out) noexcept {
  if (literal("true"))
    out = true;
  else if (literal("false"))
    out = false;
  else
    return decline();
  return true;
}

bool text_cursor::null() noexcept {
  return literal("null");
}

bool text_cursor::integer(uint64_t& magnitude, bool& negative) noexcept {
  if (!ok_ || !ws())
    return decline();
  negative = text_[at_] == '-';
  size_t i = at_ + (negative ? 1 : 0);
  if (i >= text_.size() || text_[i] < '0' || text_[i] > '9')
    return decline();
  uint64_t m = 0;
  size_t first = i;
  // Nineteen digits cannot overflow; only a twentieth is checked.
  size_t safe_end = std::min(text_.size(), first + 19);
  for (; i < safe_end && text_[i] >= '0' && text_[i] <= '9'; ++i)
    m = m * 10 + static_cast<uint64_t>(text_[i] - '0');
  for (; i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; ++i) {
    auto d = static_cast<uint64_t>(text_[i] - '0');
    if (m > (UINT64_MAX - d) / 10)
      return decline(); // beyond uint64: Boost.JSON reads a double
    m = m * 10 + d;
  }
  if (text_[first] == '0' && i - first > 1)
    return decline(); // a leading zero: not JSON
  if (i < text_.size() && (text_[i] == '.' || text_[i] == 'e' || text_[i] == 'E'))
    return decline(); // a double
  if (negative && (m == 0 || m > uint64_t{1} << 63))
    return decline(); // -0, or below int64: a double
  magnitude = m;
  at_ = i;
  return true;
}

bool text_cursor::skip_value() {
  if (!ok_ || !ws())
    return decline();
  char c = text_[at_];
  if (c == '"') {
    std::string_view s;
    size_t before = at_;
    if (plain_string(s))
      return true;
    // Escaped: read it for real (checks every escape).
    ok_ = true;
    at_ = before;
    std::string scratch;
    return string(scratch);
  }
  if (c == '{' || c == '[') {
    char end = c == '{' ? '}' : ']';
    if (!open(c))
      return false;
    if (at(end))
      return close(end);
    do {
      std::string_view key;
      std::string scratch;
      if (c == '{' && !member_key(key, scratch))
        return false;
      if (!skip_value())
        return false;
    } while (take(','));
    return close(end);
  }
  if (c == 't' || c == 'f') {
    bool b = false;
    return boolean(b);
  }
  if (c == 'n')
    return null() || decline();
  // A number, by the grammar; kept short (Boost.JSON refuses some huge ones).
  size_t i = at_;
  auto digits = [&] {
    size_t from = i;
    while (i < text_.size() && text_[i] >= '0' && text_[i] <= '9')
      ++i;
    return i - from;
  };
  if (text_[i] == '-')
    ++i;
  size_t int_at = i;
  auto n = digits();
  if (n == 0 || (text_[int_at] == '0' && n > 1))
    return decline();
  if (i < text_.size() && text_[i] == '.') {
    ++i;
    if (digits() == 0)
      return decline();
  }
  if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
    ++i;
    if (i < text_.size() && (text_[i] == '+' || text_[i] == '-'))
      ++i;
    auto e = digits();
    if (e == 0 || e > 3)
      return decline();
  }
  if (i - at_ > 40)
    return decline();
  at_ = i;
  return true;
}

text_cursor::member text_cursor::next_member(std::string_view name, bool first) noexcept {
  if (!ok_)
    return member::declined;
  size_t before = at_;
  auto absent = [&] {
    at_ = before;
    return member::absent;
  };
  auto declined = [&] {
    decline();
    return member::declined;
  };
  if (!ws())
    return first ? absent() : declined();
  if (text_[at_] == '}')
    return absent();
  if (!first) {
    if (text_[at_] != ',')
      return declined();
    ++at_;
    if (!ws())
      return absent();
  }
  size_t n = name.size();
  if (text_.size() - at_ < n + 2)
    return absent();
  const char* p = text_.data() + at_;
  if (p[0] != '"' || p[n + 1] != '"')
    return absent();
  for (size_t i = 0; i < n; ++i) {
    auto u = static_cast<unsigned char>(name[i]);
    // A name the text could only hold escaped never matches as written.
    if (p[i + 1] != name[i] || u < 0x20 || u >= 0x80 || u == '"' || u == '\\')
      return absent();
  }
  at_ += n + 2;
  if (!ws() || text_[at_] != ':')
    return declined();
  ++at_;
  return member::here;
}

bool text_cursor::member_key(std::string_view& out, std::string& scratch) {
  if (!ok_ || !ws())
    return decline();
  size_t before = at_;
  if (!plain_string(out)) {
    ok_ = true; // an escape, or worse: read it for real
    at_ = before;
    if (!string(scratch))
      return false;
    out = scratch;
  }
  return expect(':');
}

} // namespace cairn::json
