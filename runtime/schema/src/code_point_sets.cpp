// SPDX-License-Identifier: Apache-2.0
#include "internal/code_point_sets.hpp"

#include <algorithm>

namespace cairn::schema::internal {

const range_set& digit_ranges() {
  static const range_set r{{'0', '9'}};
  return r;
}

const range_set& word_ranges() {
  static const range_set r{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  return r;
}

const range_set& space_ranges() {
  static const range_set r{{0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680},
                           {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                           {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
  return r;
}

range_set normalize(range_set r) {
  std::sort(r.begin(), r.end(), [](auto a, auto b) { return a.first < b.first; });
  range_set out;
  for (auto x : r) {
    if (!out.empty() && x.first <= out.back().last + 1)
      out.back().last = std::max(out.back().last, x.last);
    else
      out.push_back(x);
  }
  return out;
}

range_set complement(const range_set& in) {
  range_set sorted = normalize(in);
  range_set out;
  char32_t next = 0;
  for (auto x : sorted) {
    if (x.first > next)
      out.push_back({next, x.first - 1});
    next = x.last + 1;
  }
  if (next <= max_code_point)
    out.push_back({next, max_code_point});
  return out;
}

} // namespace cairn::schema::internal
