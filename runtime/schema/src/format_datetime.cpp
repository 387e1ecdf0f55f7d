// SPDX-License-Identifier: Apache-2.0
// RFC 3339 date, time (with leap seconds only at 23:59:60 UTC), date-time and duration.
#include "internal/format_checks.hpp"

#include <array>
#include <string>

namespace cairn::schema::internal {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool leap_year(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

} // namespace

bool is_date(std::string_view s) {
  int y = 0;
  int m = 0;
  int d = 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 0, 4, y) || !digits(s, 5, 2, m)
      || !digits(s, 8, 2, d))
    return false;
  static constexpr std::array<int, 12> days{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > days[static_cast<std::size_t>(m - 1)])
    return false;
  return !(m == 2 && d == 29 && !leap_year(y));
}

bool is_time(std::string_view s) {
  int h = 0;
  int m = 0;
  int sec = 0;
  if (s.size() < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 0, 2, h) || !digits(s, 3, 2, m)
      || !digits(s, 6, 2, sec))
    return false;
  if (h > 23 || m > 59 || sec > 60)
    return false;
  std::size_t pos = 8;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
      ++pos;
    if (pos == start)
      return false;
  }
  if (pos >= s.size())
    return false;
  int offset = 0; // minutes east of UTC
  if (s[pos] == 'Z' || s[pos] == 'z') {
    if (pos + 1 != s.size())
      return false;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0;
    int om = 0;
    if (s.size() != pos + 6 || s[pos + 3] != ':' || !digits(s, pos + 1, 2, oh)
        || !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offset = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
  } else {
    return false;
  }
  if (sec == 60) {
    int utc = ((h * 60 + m - offset) % 1440 + 1440) % 1440;
    return utc == 23 * 60 + 59;
  }
  return true;
}

bool is_date_time(std::string_view s) {
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't'))
    return false;
  return is_date(s.substr(0, 10)) && is_time(s.substr(11));
}

bool is_duration(std::string_view s) {
  if (s.size() < 2 || s[0] != 'P')
    return false;
  std::size_t pos = 1;
  // Reads "digits unit" pairs; returns the units seen.
  auto read = [&](std::string_view allowed, std::string& units) {
    while (pos < s.size() && s[pos] != 'T') {
      std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
        ++pos;
      if (pos == start || pos >= s.size() || allowed.find(s[pos]) == std::string_view::npos)
        return false;
      units += s[pos++];
    }
    return true;
  };
  // The units of one part must be consecutive in their order (Y M D, H M S: no gaps).
  auto consecutive = [](std::string_view order, const std::string& units) {
    auto first = order.find(units.empty() ? '\0' : units[0]);
    return units.empty()
           || (first != std::string_view::npos && order.substr(first, units.size()) == units);
  };
  std::string date_units;
  if (!read("YMDW", date_units))
    return false;
  if (date_units.find('W') != std::string::npos)
    return date_units == "W" && pos == s.size();
  if (!consecutive("YMD", date_units))
    return false;
  if (pos == s.size())
    return !date_units.empty();
  ++pos; // 'T'
  std::string time_units;
  if (!read("HMS", time_units) || pos != s.size())
    return false;
  return !time_units.empty() && consecutive("HMS", time_units);
}

} // namespace cairn::schema::internal
