// SPDX-License-Identifier: Apache-2.0
// Sets of code points as sorted inclusive ranges: the classes a pattern names (\d \w \s) and the
// operations the regex translation needs on them.
#pragma once

#include <vector>

#include "internal/unicode_tables.hpp"

namespace cairn::schema::internal {

constexpr char32_t max_code_point = 0x10FFFF;

using range_set = std::vector<code_range>;

/// ECMA-262's \d, \w and \s (WhiteSpace and LineTerminator).
const range_set& digit_ranges();
const range_set& word_ranges();
const range_set& space_ranges();

/// Sorted by first code point, overlapping and adjacent ranges merged.
range_set normalize(range_set r);
/// Every code point up to `max_code_point` not in `in`.
range_set complement(const range_set& in);

} // namespace cairn::schema::internal
