// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>

namespace cairn::schema::internal {

/// A `pattern` regular expression (ECMA-262 with Unicode semantics, as JSON Schema specifies it)
/// translated into a `std::wregex` over code points.
///
/// std::regex's ECMAScript grammar is not ECMA-262: its `\s`, `\w`, `.` differ, it has no `\p{}`,
/// `\u{}`, named groups or surrogate pairs, and its default matcher recurses once per input
/// character (a stack overflow on long strings). The translation spells every class out as
/// explicit code point ranges and matching uses libstdc++'s breadth-first executor
/// (`__polynomial`), whose recursion depends on the pattern, not the input. Constructs that
/// cannot be expressed that way (lookbehind, backreferences) are refused at compile time.
///
/// Thread contract: immutable after `compile`; `search` may run on many threads at once.
class ecma_regex {
public:
  /// Translates and compiles `pattern`; on failure returns nullptr and sets `error`.
  static std::shared_ptr<const ecma_regex> compile(std::string_view pattern, std::string& error);

  /// True when the pattern matches anywhere in `text` (UTF-8).
  bool search(std::string_view text) const;

  ecma_regex(std::regex ascii, std::wregex wide)
    : ascii_(std::move(ascii)), wide_(std::move(wide)) {}

private:
  // The same pattern twice: over bytes for ASCII input (std::regex caches ASCII class membership
  // in a bitset, several times faster) with every class clipped to ASCII, which is exact when
  // the input has no other characters; and over code points for everything else.
  std::regex ascii_;
  std::wregex wide_;
};

/// True when `pattern` is a syntactically valid ECMA-262 regular expression in Unicode mode (the
/// `regex` format), whether or not `ecma_regex` can run it.
bool is_ecma_regex(std::string_view pattern);

} // namespace cairn::schema::internal
