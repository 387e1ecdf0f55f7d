// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace cairn::schema::internal {

/// An ECMA-262 pattern rewritten in std::regex's ECMAScript syntax over code points.
struct pattern_translation {
  std::wstring pattern;
  /// Non-empty: the input is not ECMA-262 (Unicode mode).
  std::string syntax_error;
  /// Non-empty: valid ECMA-262 that std::regex cannot run (lookbehind, unknown \p{} ...).
  std::string unsupported;
  bool has_backreference = false;
};

/// Translates `pattern`. With `ascii_only`, every class is clipped to ASCII and non-ASCII
/// literals never match: the result is exact for inputs made of ASCII characters only, and
/// then runs as a byte regex.
pattern_translation translate_pattern(std::string_view pattern, bool ascii_only);

} // namespace cairn::schema::internal
