// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>

namespace cairn::schema::internal {

// JSON Schema compares numbers as numbers, not as the C++ types Boost.JSON chose for them:
// 1 == 1.0, and int64/uint64/double comparisons are exact (no rounding through double).

/// True for int64, uint64 and double values.
inline bool is_number(const boost::json::value& v) {
  return v.is_int64() || v.is_uint64() || v.is_double();
}

/// True for numbers with no fractional part (1.0 is an integer).
bool is_integer(const boost::json::value& v);

/// Exact order of two numbers: negative, zero or positive. Precondition: both are numbers.
int compare_numbers(const boost::json::value& a, const boost::json::value& b);

/// JSON equality as `const`, `enum` and `uniqueItems` use it: numbers by value, objects without
/// regard to member order, arrays element by element.
bool json_equal(const boost::json::value& a, const boost::json::value& b);

/// True when `x` is an integer multiple of `divisor` (> 0), computed on the shortest decimal
/// representations of both (so 0.0075 is a multiple of 0.0001), never through a lossy division.
bool is_multiple_of(const boost::json::value& x, const boost::json::value& divisor);

} // namespace cairn::schema::internal
