// SPDX-License-Identifier: Apache-2.0
// ECMA-262 -> std::regex ECMAScript: classes spelled out as code point ranges (\d \w \s . \p{}),
// \u{} and surrogate pairs decoded, named groups numbered, syntax checked on the way.
#include "internal/regex_translation.hpp"

#include "internal/code_point_sets.hpp"
#include "internal/unicode_tables.hpp"
#include "internal/utf8.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace cairn::schema::internal {

namespace {

constexpr unsigned max_repetition = 1000;

bool is_hex(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
unsigned hex_digit(char32_t c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
bool is_syntax_char(char32_t c) {
  return std::u32string_view(U"^$\\.*+?()[]{}|/").find(c) != std::u32string_view::npos;
}
bool is_alnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// A class atom: one code point or a set (\d, \p{L}, ...).
struct class_atom {
  std::optional<char32_t> single;
  range_set set;
};

// Rewrites an ECMA-262 pattern into std::regex ECMAScript syntax over code points. `syntax_error`
// means the pattern is not ECMA-262; `unsupported` means it is but std::regex cannot run it.
class translator {
public:
  // `ascii_only`: translate for inputs made of ASCII characters only (see ecma_regex).
  translator(std::string_view pattern, bool ascii_only)
    : in_(utf8_decode<std::u32string>(pattern)), ascii_only_(ascii_only) {}

  bool run() {
    scan_groups();
    while (ok() && pos_ < in_.size())
      term();
    if (ok() && depth_ != 0)
      fail("unbalanced parenthesis");
    return ok();
  }

  std::wstring out_;
  std::string syntax_error_;
  std::string unsupported_;
  bool has_backreference_ = false;

private:
  bool ok() const { return syntax_error_.empty(); }
  void fail(std::string why) {
    if (syntax_error_.empty())
      syntax_error_ = std::move(why);
  }
  bool eof() const { return pos_ >= in_.size(); }
  char32_t peek(std::size_t ahead = 0) const {
    return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : 0;
  }

  // Numbers the capturing groups and records group names, so \k<name> may refer forward.
  void scan_groups() {
    bool in_class = false;
    int count = 0;
    for (std::size_t i = 0; i < in_.size(); ++i) {
      char32_t c = in_[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        in_class = c != ']';
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(') {
        if (i + 1 < in_.size() && in_[i + 1] == '?') {
          if (i + 2 < in_.size() && in_[i + 2] == '<' && i + 3 < in_.size() && in_[i + 3] != '='
              && in_[i + 3] != '!') {
            ++count;
            auto close = in_.find('>', i + 3);
            if (close == std::u32string::npos)
              continue;
            auto name = in_.substr(i + 3, close - i - 3);
            if (!names_.emplace(name, count).second)
              fail("duplicate group name");
          }
        } else {
          ++count;
        }
      }
    }
  }

  void emit_char(char32_t c) {
    if (ascii_only_ && c >= 0x80) {
      emit_never(); // cannot match an ASCII input
      return;
    }
    if (is_alnum(c) || c == ' ') {
      out_ += static_cast<wchar_t>(c);
    } else if (c < 0x80) {
      static constexpr char digits[] = "0123456789abcdef";
      out_ += L"\\x";
      out_ += static_cast<wchar_t>(digits[c >> 4]);
      out_ += static_cast<wchar_t>(digits[c & 15]);
    } else {
      out_ += static_cast<wchar_t>(c);
    }
  }

  // A class that matches nothing, and may be quantified (unlike an empty lookahead).
  void emit_never() {
    out_ += L"[^\\x00-";
    out_ +=
      ascii_only_ ? std::wstring(L"\\x7f") : std::wstring(1, static_cast<wchar_t>(max_code_point));
    out_ += L']';
  }

  void emit_set(const range_set& raw) {
    range_set set = normalize(raw);
    if (ascii_only_) {
      std::erase_if(set, [](code_range r) { return r.first >= 0x80; });
      for (auto& r : set)
        r.last = std::min<char32_t>(r.last, 0x7F);
    }
    if (set.empty()) {
      emit_never();
      return;
    }
    out_ += L'[';
    for (auto r : set) {
      emit_char(r.first);
      if (r.last != r.first) {
        out_ += L'-';
        emit_char(r.last);
      }
    }
    out_ += L']';
  }

  std::optional<char32_t> unicode_escape() {
    // after "\u"
    if (peek() == '{') {
      ++pos_;
      char32_t v = 0;
      std::size_t n = 0;
      while (is_hex(peek()) && n < 8) {
        v = v * 16 + hex_digit(peek());
        ++pos_, ++n;
      }
      if (n == 0 || peek() != '}' || v > max_code_point)
        return std::nullopt;
      ++pos_;
      return v;
    }
    auto four = [&]() -> std::optional<char32_t> {
      char32_t v = 0;
      for (int k = 0; k < 4; ++k) {
        if (!is_hex(peek()))
          return std::nullopt;
        v = v * 16 + hex_digit(peek());
        ++pos_;
      }
      return v;
    };
    auto v = four();
    if (v && *v >= 0xD800 && *v <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
      auto save = pos_;
      pos_ += 2;
      auto low = four();
      if (low && *low >= 0xDC00 && *low <= 0xDFFF)
        return 0x10000 + ((*v - 0xD800) << 10) + (*low - 0xDC00);
      pos_ = save;
    }
    return v;
  }

  std::optional<range_set> property() {
    // after "\p" or "\P"
    if (peek() != '{') {
      fail("\\p needs {name}");
      return std::nullopt;
    }
    auto close = in_.find('}', pos_);
    if (close == std::u32string::npos) {
      fail("unterminated \\p{");
      return std::nullopt;
    }
    std::string name;
    for (auto c : in_.substr(pos_ + 1, close - pos_ - 1))
      name += c < 0x80 ? static_cast<char>(c) : '?';
    pos_ = close + 1;
    if (auto eq = name.find('='); eq != std::string::npos) {
      auto key = name.substr(0, eq);
      if (key == "General_Category" || key == "gc")
        name = name.substr(eq + 1);
    }
    auto table = unicode_property(name);
    if (!table) {
      if (unsupported_.empty())
        unsupported_ = "Unicode property \\p{" + name + "} is not supported";
      return range_set{};
    }
    return range_set(table->begin(), table->end());
  }

  // An escape that denotes a set or a single code point, shared by classes and atoms.
  std::optional<class_atom> common_escape(char32_t e) {
    switch (e) {
      case 'd': return class_atom{std::nullopt, digit_ranges()};
      case 'D': return class_atom{std::nullopt, complement(digit_ranges())};
      case 'w': return class_atom{std::nullopt, word_ranges()};
      case 'W': return class_atom{std::nullopt, complement(word_ranges())};
      case 's': return class_atom{std::nullopt, space_ranges()};
      case 'S': return class_atom{std::nullopt, complement(space_ranges())};
      case 'p':
      case 'P': {
        auto set = property();
        if (!set)
          return std::nullopt;
        return class_atom{std::nullopt, e == 'p' ? *set : complement(*set)};
      }
      case 't': return class_atom{U'\t', {}};
      case 'n': return class_atom{U'\n', {}};
      case 'v': return class_atom{U'\v', {}};
      case 'f': return class_atom{U'\f', {}};
      case 'r': return class_atom{U'\r', {}};
      case '0':
        if (peek() >= '0' && peek() <= '9')
          break;
        return class_atom{U'\0', {}};
      case 'c': {
        char32_t l = peek();
        if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
          ++pos_;
          return class_atom{static_cast<char32_t>(l % 32), {}};
        }
        break;
      }
      case 'x':
        if (is_hex(peek()) && is_hex(peek(1))) {
          char32_t v = hex_digit(peek()) * 16 + hex_digit(peek(1));
          pos_ += 2;
          return class_atom{v, {}};
        }
        break;
      case 'u':
        if (auto v = unicode_escape())
          return class_atom{*v, {}};
        break;
      default:
        if (is_syntax_char(e))
          return class_atom{e, {}};
    }
    fail("invalid escape");
    return std::nullopt;
  }

  std::optional<class_atom> class_atom_at() {
    char32_t c = in_[pos_++];
    if (c != '\\')
      return class_atom{c, {}};
    if (eof()) {
      fail("\\ at end of pattern");
      return std::nullopt;
    }
    char32_t e = in_[pos_++];
    if (e == 'b')
      return class_atom{U'\b', {}};
    if (e == '-')
      return class_atom{U'-', {}};
    return common_escape(e);
  }

  void character_class() {
    ++pos_; // '['
    bool negate = false;
    if (peek() == '^') {
      negate = true;
      ++pos_;
    }
    range_set set;
    while (ok()) {
      if (eof()) {
        fail("unterminated character class");
        return;
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      auto a = class_atom_at();
      if (!a)
        return;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < in_.size()) {
        ++pos_;
        auto b = class_atom_at();
        if (!b)
          return;
        if (!a->single || !b->single) {
          fail("class escape in a range");
          return;
        }
        if (*a->single > *b->single) {
          fail("range out of order in character class");
          return;
        }
        set.push_back({*a->single, *b->single});
      } else if (a->single) {
        set.push_back({*a->single, *a->single});
      } else {
        set.insert(set.end(), a->set.begin(), a->set.end());
      }
    }
    emit_set(negate ? complement(set) : set);
  }

  void escape() {
    ++pos_; // '\'
    if (eof()) {
      fail("\\ at end of pattern");
      return;
    }
    char32_t e = in_[pos_++];
    if (e == 'b' || e == 'B') {
      out_ += L'\\';
      out_ += static_cast<wchar_t>(e);
      return;
    }
    if (e >= '1' && e <= '9') {
      std::wstring digits(1, static_cast<wchar_t>(e));
      while (peek() >= '0' && peek() <= '9')
        digits += static_cast<wchar_t>(in_[pos_++]);
      has_backreference_ = true;
      out_ += L"\\" + digits;
      return;
    }
    if (e == 'k') {
      auto close = in_.find('>', pos_);
      if (peek() != '<' || close == std::u32string::npos) {
        fail("invalid \\k");
        return;
      }
      auto it = names_.find(in_.substr(pos_ + 1, close - pos_ - 1));
      if (it == names_.end()) {
        fail("\\k names no group");
        return;
      }
      pos_ = close + 1;
      has_backreference_ = true;
      out_ += L"\\" + std::to_wstring(it->second);
      return;
    }
    auto atom = common_escape(e);
    if (!atom)
      return;
    if (atom->single)
      emit_char(*atom->single);
    else
      emit_set(atom->set);
  }

  void group() {
    ++pos_; // '('
    ++depth_;
    if (peek() != '?') {
      out_ += L'(';
      return;
    }
    if (peek(1) == ':' || peek(1) == '=' || peek(1) == '!') {
      out_ += L"(?";
      out_ += static_cast<wchar_t>(peek(1));
      pos_ += 2;
      return;
    }
    if (peek(1) == '<' && (peek(2) == '=' || peek(2) == '!')) {
      if (unsupported_.empty())
        unsupported_ = "lookbehind assertions are not supported";
      out_ += L"(?";
      out_ += static_cast<wchar_t>(peek(2));
      pos_ += 3;
      return;
    }
    if (peek(1) == '<') {
      auto close = in_.find('>', pos_);
      if (close == std::u32string::npos || close == pos_ + 2) {
        fail("invalid group name");
        return;
      }
      for (auto i = pos_ + 2; i < close; ++i) {
        char32_t c = in_[i];
        bool ident = is_alnum(c) || c == '_' || c == '$' || c >= 0x80;
        if (!ident || (i == pos_ + 2 && c >= '0' && c <= '9')) {
          fail("invalid group name");
          return;
        }
      }
      pos_ = close + 1;
      out_ += L'(';
      return;
    }
    fail("invalid group");
  }

  // `{n}`, `{n,}` or `{n,m}` at pos_; false when it is not a quantifier.
  bool quantifier() {
    std::size_t p = pos_ + 1;
    auto number = [&](unsigned long& v) {
      std::size_t start = p;
      v = 0;
      while (p < in_.size() && in_[p] >= '0' && in_[p] <= '9') {
        v = std::min<unsigned long>(v * 10 + (in_[p] - '0'), 1'000'000);
        ++p;
      }
      return p > start;
    };
    unsigned long lo = 0;
    unsigned long hi = 0;
    if (!number(lo))
      return false;
    hi = lo;
    bool open = false;
    if (p < in_.size() && in_[p] == ',') {
      ++p;
      if (!number(hi))
        open = true;
    }
    if (p >= in_.size() || in_[p] != '}')
      return false;
    if (!open && hi < lo) {
      fail("numbers out of order in quantifier");
      return true;
    }
    if (lo > max_repetition || (!open && hi > max_repetition)) {
      if (unsupported_.empty())
        unsupported_ = "repetition counts above 1000 are not supported";
    }
    for (auto i = pos_; i <= p; ++i)
      out_ += static_cast<wchar_t>(in_[i]);
    pos_ = p + 1;
    return true;
  }

  void term() {
    char32_t c = peek();
    switch (c) {
      case '\\': escape(); return;
      case '[': character_class(); return;
      case '(': group(); return;
      case ')':
        if (--depth_ < 0)
          fail("unbalanced parenthesis");
        out_ += L')';
        ++pos_;
        return;
      case '.':
        ++pos_;
        emit_set(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
        return;
      case '{':
        if (quantifier())
          return;
        fail("lone { in pattern");
        return;
      case '}':
      case ']': fail("lone bracket in pattern"); return;
      case '*':
      case '+':
      case '?':
      case '|':
      case '^':
      case '$':
        out_ += static_cast<wchar_t>(c);
        ++pos_;
        return;
      default: emit_char(c); ++pos_;
    }
  }

  std::u32string in_;
  bool ascii_only_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::map<std::u32string, int> names_;
};

} // namespace

pattern_translation translate_pattern(std::string_view pattern, bool ascii_only) {
  translator t(pattern, ascii_only);
  t.run();
  return {std::move(t.out_), std::move(t.syntax_error_), std::move(t.unsupported_),
          t.has_backreference_};
}

} // namespace cairn::schema::internal
