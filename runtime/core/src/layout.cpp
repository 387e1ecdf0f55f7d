// SPDX-License-Identifier: Apache-2.0
// On-disk layout versions and the migrations between them. A new layout is
// never a silent reinterpretation: it gets a version and a step here.
#include "internal/layout.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "cairn/codec.hpp"
#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"

namespace cairn::internal {

namespace {

struct migration {
  uint32_t from;
  const char* what;
  caf::error (*apply)(storage& store, write_set& ws);
};

// 1 -> 2: the `outbox` column family (created empty at open); nothing moves.
caf::error add_outbox(storage&, write_set&) {
  return {};
}

// 2 -> 3: journal rows gain the event's time, cause and trace. Events
// written before keep zero/empty ones: that history was never recorded.
caf::error journal_audit(storage& store, write_set& ws) {
  caf::error bad;
  auto err = store.scan(column::journal, "", "", [&](std::string_view k, std::string_view v) {
    auto ev = decode<step_effects::event>(v);
    if (!ev) {
      bad =
        make_error(errc::corrupt_record, "journal row cannot be migrated: " + render(ev.error()));
      return false;
    }
    ws.put(column::journal, std::string{k},
           encode(journal_record{std::move(ev->type), std::move(ev->payload), 0, {}, {}}));
    return true;
  });
  return err ? err : bad;
}

// 3 -> 4: spans were keyed by trace id and span id (a random insert per
// step); now they are keyed by the time they ended, with an index row by
// trace id. Rows are rewritten a few thousand at a time, so a day of spans
// needs no day of memory; a migration cut short resumes (rewritten rows
// start with a zero byte, old ones with a hex digit).
caf::error time_ordered_spans(storage& store, write_set&) {
  constexpr size_t rows_per_write = 4096;
  for (;;) {
    write_set chunk;
    size_t rows = 0;
    auto err = store.scan(column::trace, "", "0", [&](std::string_view k, std::string_view v) {
      chunk.erase(column::trace, std::string{k});
      auto span = decode<span_record>(v);
      if (span && k.size() > keys::trace_id_size) {
        auto end_us = static_cast<uint64_t>(std::max<int64_t>(span->end_ms, 0)) * 1000;
        auto trace_id = k.substr(0, keys::trace_id_size);
        auto span_id = k.substr(keys::trace_id_size);
        chunk.put(column::trace, keys::span(end_us, trace_id, span_id), std::string{v});
        chunk.put(column::trace_index, keys::span_index(trace_id, end_us, span_id), {});
      }
      return ++rows < rows_per_write;
    });
    if (err)
      return err;
    if (rows == 0)
      return {};
    if (auto werr = store.write(chunk, true))
      return werr;
  }
}

constexpr migration migrations[] = {
  {1, "adds the outbox column family", add_outbox},
  {2, "journal events record their time, cause and trace", journal_audit},
  {3, "spans are kept in time order, found by trace id through an index", time_ordered_spans},
};

} // namespace

caf::error migrate_layout(storage& store, const std::string& dir, const std::string& found) {
  uint32_t version = 0;
  for (char c : found) {
    if (c < '0' || c > '9' || version > 1000) {
      version = 0;
      break;
    }
    version = version * 10 + static_cast<uint32_t>(c - '0');
  }
  if (version == 0 || version > layout_version)
    return make_error(errc::unknown_layout, "data directory " + dir + " has layout version " + found
                                              + "; this cairn build knows versions 1 to "
                                              + std::to_string(layout_version)
                                              + ". Use the cairn release that wrote it");
  while (version < layout_version) {
    const migration* step = nullptr;
    for (const auto& m : migrations)
      if (m.from == version)
        step = &m;
    if (!step)
      return make_error(errc::unknown_layout, "no migration from layout version "
                                                + std::to_string(version) + " in this build");
    write_set ws;
    if (auto err = step->apply(store, ws))
      return err;
    ws.put(column::meta, "layout", std::to_string(version + 1));
    if (auto err = store.write(ws, true))
      return err;
    spdlog::info("data directory {}: layout {} -> {} ({})", dir, version, version + 1, step->what);
    ++version;
  }
  return {};
}

} // namespace cairn::internal
