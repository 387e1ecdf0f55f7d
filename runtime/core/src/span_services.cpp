// SPDX-License-Identifier: Apache-2.0
// The services thread's span work: retention of expired spans and the
// index from trace ids to the rows that hold their spans.
#include "internal/runtime_impl.hpp"

#include <algorithm>
#include <cstring>

#include "internal/span_codec.hpp"

namespace cairn {

// Span retention: rows are in the order they were written, so the expired
// ones are the first; a pass deletes them from the front and stops at the
// first one still kept, and drops the index's hours before the horizon in
// one range (a lookup skips an index row whose span is gone). Up to
// `rows_per_pass` per second, more than a node writes: a busy node never
// falls behind. The next pass starts after the last row deleted instead of
// stepping over its tombstones again; once an hour it starts from the first
// row (rows written by an older layout are in the order their spans ended).
void runtime::impl::expire_spans(int64_t wall) {
  constexpr size_t rows_per_pass = 1u << 18;
  constexpr size_t rows_per_write = 8192;
  auto horizon_us = static_cast<uint64_t>(wall - opts.span_retention.count()) * 1000;
  if (wall - gc_span_reset_ms > 3600 * 1000) {
    gc_span_cursor.clear();
    gc_span_reset_ms = wall;
  }
  // The index's first row says whether an hour before the horizon is left
  // (the indexer may write one late, after a restart): one seek a pass.
  auto hour = static_cast<uint32_t>(horizon_us / keys::span_bucket_us);
  bool old_hours = false;
  ignore_error(store->scan(column::trace_index, "i", "", [&](std::string_view k, std::string_view) {
    old_hours = k.size() >= 5 && keys::span_index_prefix(hour, {}) > k.substr(0, 5);
    return false;
  }));
  if (old_hours) {
    write_set drop;
    drop.erase_range(column::trace_index, keys::span_index_prefix(0, {}),
                     keys::span_index_prefix(hour, {}));
    ignore_error(store->write(drop, false));
  }
  size_t total = 0;
  bool more = true;
  while (more && total < rows_per_pass) {
    more = false;
    write_set spans;
    size_t rows = 0;
    std::string last;
    ignore_error(
      store->scan(column::trace, "", gc_span_cursor, [&](std::string_view k, std::string_view) {
        if (k.size() >= 8 && keys::read_be64(k) >= horizon_us)
          return false;
        spans.erase(column::trace, std::string{k});
        last = std::string{k};
        more = ++rows == rows_per_write;
        return !more;
      }));
    if (rows == 0 || store->write(spans, false))
      return;
    expired.fetch_add(rows);
    total += rows;
    gc_span_cursor = std::move(last);
  }
}

// The span index: every second, the `trace` rows written since the last
// pass become index rows ("this row holds spans of that trace"), sorted here
// and added as one table file with the cursor (so the index and its cursor
// are durable together, and the step's commit never touches the index). A
// lookup reads the index, then the rows after the cursor.
void runtime::impl::index_spans(bool now) {
  auto time = std::chrono::steady_clock::now();
  if (!now && time - last_index < std::chrono::seconds{1})
    return;
  last_index = time;
  if (!span_index_at) {
    auto at = store->get(column::trace_index, keys::span_index_cursor);
    if (!at)
      return;
    span_index_at = at->value_or(std::string{});
  }
  constexpr size_t max_spans = 1u << 18;
  auto& entries = span_entries;
  auto& rows = span_rows; // the `trace` keys, back to back; row i at span_row_at[i]
  entries.clear();
  rows.clear();
  span_row_at.clear();
  std::string from = *span_index_at;
  if (!from.empty())
    from.push_back('\0'); // strictly after it
  auto err = store->scan(column::trace, "", from, [&](std::string_view k, std::string_view v) {
    if (k.size() < 8)
      return true;
    auto hour = static_cast<uint32_t>(keys::read_be64(k) / keys::span_bucket_us);
    auto row = static_cast<uint32_t>(span_row_at.size());
    span_row_at.push_back(rows.size());
    rows.append(k);
    span_index_entry e{hour, {}, row};
    if (v.empty() || static_cast<uint8_t>(v[0]) != internal::span_group_format) {
      if (k.size() >= 8 + keys::trace_id_size) { // a row of one span (layout 5)
        std::memcpy(e.trace_id, k.data() + 8, keys::trace_id_size);
        entries.push_back(e);
      }
      return entries.size() < max_spans;
    }
    size_t pos = 1;
    bool ok = true;
    internal::span_trace_walk walk;
    while (internal::next_trace_in_group(v, pos, e.trace_id, ok, walk))
      entries.push_back(e);
    return entries.size() < max_spans;
  });
  // A pass far smaller than the memory kept gives the rest back.
  auto release_if_small = [&] {
    if (entries.size() >= entries.capacity() / 4 && rows.size() >= rows.capacity() / 4)
      return;
    std::vector<span_index_entry>{}.swap(entries);
    std::string{}.swap(rows);
    std::vector<size_t>{}.swap(span_row_at);
    std::vector<span_index_entry>{}.swap(span_sorted);
  };
  if (err || span_row_at.empty()) {
    release_if_small();
    return;
  }
  span_row_at.push_back(rows.size());
  auto row_key = [&](uint32_t row) {
    return std::string_view{rows}.substr(span_row_at[row], span_row_at[row + 1] - span_row_at[row]);
  };
  internal::sort_span_entries(entries, span_sorted);
  auto last_row = std::string{row_key(static_cast<uint32_t>(span_row_at.size() - 2))};
  // Each index row is built as the table file takes it, into one reused
  // key: built all first, in buffers growing with the pass, they were a
  // third of the indexer's time (the copies of each growth, and the fresh
  // pages faulted in).
  size_t next = 0;
  bool cursor_given = false;
  auto produce = [&](std::string& key, std::string& value) {
    value.clear();
    for (; next < entries.size(); ++next) {
      const auto& e = entries[next];
      if (next > 0 && e.row == entries[next - 1].row && e.hour == entries[next - 1].hour
          && std::memcmp(e.trace_id, entries[next - 1].trace_id, sizeof e.trace_id) == 0)
        continue; // two spans of one trace in one row: one index row
      key.clear();
      keys::append_span_index_row(key, std::string_view{e.trace_id, sizeof e.trace_id},
                                  row_key(e.row));
      ++next;
      return true;
    }
    if (cursor_given)
      return false;
    cursor_given = true; // last: it sorts after every index row
    key.assign(keys::span_index_cursor);
    value.assign(last_row);
    return true;
  };
  auto indexed = entries.size();
  auto not_ingested = store->ingest(column::trace_index, produce);
  release_if_small();
  if (not_ingested)
    return; // the next pass tries again; lookups read the rows after the cursor
  span_index_at = std::move(last_row);
  spans_indexed.fetch_add(indexed, std::memory_order_relaxed);
}

} // namespace cairn
