// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace cairn {

/// The value of one hexadecimal digit, either case (`0`-`9`, `a`-`f`,
/// `A`-`F`), or -1 for any other character. For the text edges: percent
/// escapes in URLs, `\u` escapes in JSON.
constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static_assert(hex_digit('7') == 7 && hex_digit('b') == 11 && hex_digit('F') == 15
              && hex_digit('g') == -1);

} // namespace cairn
