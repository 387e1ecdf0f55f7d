// SPDX-License-Identifier: Apache-2.0
#include "internal/json_compare.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace cairn::schema::internal {

namespace {

// __extension__: unsigned __int128 is a GCC/Clang extension; -Wpedantic would reject it.
__extension__ typedef unsigned __int128 uint128;

// Compares the integer `i` with the finite double `d` exactly.
int compare_int_double(std::int64_t i, double d) {
  if (d < -9223372036854775808.0)
    return 1;
  if (d >= 9223372036854775808.0)
    return -1;
  double whole = std::trunc(d);
  auto t = static_cast<std::int64_t>(whole);
  if (i != t)
    return i < t ? -1 : 1;
  double frac = d - whole;
  return frac > 0 ? -1 : (frac < 0 ? 1 : 0);
}

int compare_uint_double(std::uint64_t u, double d) {
  if (d < 0)
    return 1;
  if (d >= 18446744073709551616.0)
    return -1;
  double whole = std::trunc(d);
  auto t = static_cast<std::uint64_t>(whole);
  if (u != t)
    return u < t ? -1 : 1;
  return d - whole > 0 ? -1 : 0;
}

// A non-negative number as mantissa * 10^exponent.
struct decimal {
  std::uint64_t mantissa = 0;
  int exponent = 0;
};

decimal to_decimal(const boost::json::value& v) {
  if (v.is_int64()) {
    auto i = v.get_int64();
    return {i < 0 ? static_cast<std::uint64_t>(-(i + 1)) + 1 : static_cast<std::uint64_t>(i), 0};
  }
  if (v.is_uint64())
    return {v.get_uint64(), 0};
  char buf[64];
  auto [end, ec] =
    std::to_chars(buf, buf + sizeof(buf), std::fabs(v.get_double()), std::chars_format::scientific);
  // d.ddddde[+-]xx
  decimal out;
  int digits_after_point = 0;
  bool after_point = false;
  char* p = buf;
  for (; p != end && *p != 'e'; ++p) {
    if (*p == '.') {
      after_point = true;
      continue;
    }
    out.mantissa = out.mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
    if (after_point)
      ++digits_after_point;
  }
  int exp10 = 0;
  if (p != end)
    std::from_chars(p + (p[1] == '+' ? 2 : 1), end, exp10);
  out.exponent = exp10 - digits_after_point;
  return out;
}

} // namespace

bool is_integer(const boost::json::value& v) {
  if (v.is_int64() || v.is_uint64())
    return true;
  if (!v.is_double())
    return false;
  double d = v.get_double();
  return std::isfinite(d) && std::trunc(d) == d;
}

int compare_numbers(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_int64()) {
    auto x = a.get_int64();
    if (b.is_int64())
      return x < b.get_int64() ? -1 : (x > b.get_int64() ? 1 : 0);
    if (b.is_uint64()) {
      if (x < 0)
        return -1;
      auto ux = static_cast<std::uint64_t>(x);
      return ux < b.get_uint64() ? -1 : (ux > b.get_uint64() ? 1 : 0);
    }
    return compare_int_double(x, b.get_double());
  }
  if (a.is_uint64()) {
    auto x = a.get_uint64();
    if (b.is_uint64())
      return x < b.get_uint64() ? -1 : (x > b.get_uint64() ? 1 : 0);
    if (b.is_int64())
      return -compare_numbers(b, a);
    return compare_uint_double(x, b.get_double());
  }
  double x = a.get_double();
  if (b.is_double()) {
    double y = b.get_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return -compare_numbers(b, a);
}

bool json_equal(const boost::json::value& a, const boost::json::value& b) {
  if (is_number(a) && is_number(b))
    return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind())
    return false;
  switch (a.kind()) {
    case boost::json::kind::null: return true;
    case boost::json::kind::bool_: return a.get_bool() == b.get_bool();
    case boost::json::kind::string: return a.get_string() == b.get_string();
    case boost::json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size())
        return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (!json_equal(x[i], y[i]))
          return false;
      return true;
    }
    case boost::json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size())
        return false;
      for (const auto& member : x) {
        auto it = y.find(member.key());
        if (it == y.end() || !json_equal(member.value(), it->value()))
          return false;
      }
      return true;
    }
    default: return false;
  }
}

bool is_multiple_of(const boost::json::value& x, const boost::json::value& divisor) {
  if (x.is_double() && !std::isfinite(x.get_double()))
    return false;
  if (!x.is_double() && !divisor.is_double()) {
    decimal a = to_decimal(x);
    decimal b = to_decimal(divisor);
    return b.mantissa != 0 && a.mantissa % b.mantissa == 0;
  }
  decimal a = to_decimal(x);
  decimal b = to_decimal(divisor);
  if (a.mantissa == 0)
    return true;
  if (b.mantissa == 0)
    return false;
  if (a.exponent >= b.exponent) {
    uint128 r = a.mantissa % b.mantissa;
    for (int k = a.exponent - b.exponent; k > 0 && r != 0; --k)
      r = (r * 10) % b.mantissa;
    return r == 0;
  }
  int shift = b.exponent - a.exponent;
  if (shift > 20)
    return false;
  uint128 m = b.mantissa;
  for (int k = 0; k < shift; ++k) {
    m *= 10;
    if (m > a.mantissa)
      return false;
  }
  return a.mantissa % m == 0;
}

} // namespace cairn::schema::internal
