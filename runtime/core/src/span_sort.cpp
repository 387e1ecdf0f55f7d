// SPDX-License-Identifier: Apache-2.0
// The span indexer's sort of the entries a pass found (span_codec.hpp,
// `sort_span_entries`).
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

namespace cairn::internal {

static_assert(sizeof(span_index_entry::trace_id) == keys::trace_id_size);

// Sorts a pass's entries by hour, trace id and row. They come in row
// order, so a stable radix sort on the hour and the trace id's first 8 bytes
// (least significant byte first, skipping bytes every entry shares) keeps
// rows in order; entries whose first 8 bytes tie (the same trace, almost
// always) are then sorted by the rest. It replaced a comparison sort that
// was a ninth of the indexer's time.
void sort_span_entries(std::vector<span_index_entry>& entries,
                       std::vector<span_index_entry>& scratch) {
  constexpr size_t head = 8;          // trace id bytes in the radix key
  constexpr size_t digits = head + 4; // then the hour's, most significant last
  auto digit = [](const span_index_entry& e, size_t d) -> uint8_t {
    if (d < head)
      return static_cast<uint8_t>(e.trace_id[head - 1 - d]);
    return static_cast<uint8_t>(e.hour >> (8 * (d - head)));
  };
  std::vector<std::array<uint32_t, 256>> counts(digits);
  for (auto& c : counts)
    c.fill(0);
  for (const auto& e : entries)
    for (size_t d = 0; d < digits; ++d)
      ++counts[d][digit(e, d)];
  if (scratch.capacity() < entries.size())
    scratch.reserve(entries.size() + entries.size() / 2); // as `entries` grows: not each pass
  scratch.resize(entries.size());
  for (size_t d = 0; d < digits; ++d) {
    auto& c = counts[d];
    if (std::any_of(c.begin(), c.end(), [&](uint32_t n) { return n == entries.size(); }))
      continue; // every entry has this byte: nothing to order
    uint32_t at = 0;
    for (auto& n : c)
      at += std::exchange(n, at);
    for (const auto& e : entries)
      scratch[c[digit(e, d)]++] = e;
    entries.swap(scratch);
  }
  auto tail_less = [](const span_index_entry& a, const span_index_entry& b) {
    if (int c = std::memcmp(a.trace_id + head, b.trace_id + head, sizeof a.trace_id - head); c != 0)
      return c < 0;
    return a.row < b.row;
  };
  for (size_t i = 0; i < entries.size();) {
    size_t j = i + 1;
    while (j < entries.size() && entries[j].hour == entries[i].hour
           && std::memcmp(entries[j].trace_id, entries[i].trace_id, head) == 0)
      ++j;
    if (j - i > 1)
      std::sort(entries.begin() + static_cast<std::ptrdiff_t>(i),
                entries.begin() + static_cast<std::ptrdiff_t>(j), tail_less);
    i = j;
  }
}

} // namespace cairn::internal
