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
#include "internal/span_codec.hpp"

namespace cairn::internal {

namespace {

/// A span as layouts 1 to 4 stored it (CAF binary, milliseconds).
struct legacy_span {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
  std::string actor;
  std::string type;
  std::string envelope_id;
  uint32_t attempt = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string status; ///< "ok", or the error
  uint64_t first_event = 0;
  uint32_t events = 0;
  std::vector<std::string> sent; ///< "id to type"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, legacy_span& x) {
  return f(caf::meta::type_name("cairn.span"), x.trace_id, x.span_id, x.parent_span_id, x.actor,
           x.type, x.envelope_id, x.attempt, x.start_ms, x.end_ms, x.status, x.first_event,
           x.events, x.sent);
}

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
      auto span = decode<legacy_span>(v);
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

// 4 -> 5: span values get the compact encoding (internal/span_codec.hpp),
// their times in microseconds. In chunks, as 3 -> 4; a rewritten value
// starts with `span_format`, so a migration cut short skips what it did.
// A row that does not decode is deleted with its index row: it was
// unreadable before too.
caf::error compact_spans(storage& store, write_set&) {
  constexpr size_t rows_per_write = 4096;
  std::string from;
  for (;;) {
    write_set chunk;
    size_t rows = 0;
    std::string last;
    auto err = store.scan(column::trace, "", from, [&](std::string_view k, std::string_view v) {
      last.assign(k);
      if (!v.empty() && static_cast<uint8_t>(v[0]) == span_format)
        return ++rows < rows_per_write;
      auto old = decode<legacy_span>(v);
      if (!old || k.size() <= 8 + keys::trace_id_size) {
        chunk.erase(column::trace, std::string{k});
        chunk.erase(column::trace_index, keys::index_from_span(k));
        return ++rows < rows_per_write;
      }
      span_record s;
      s.trace_id = old->trace_id;
      s.span_id = old->span_id;
      s.parent_span_id = old->parent_span_id;
      s.kind = span_kind::consumer;
      s.start_us = old->start_ms * 1000;
      s.end_us = old->end_ms * 1000;
      if (old->status == "ok") {
        s.status = span_status::ok;
      } else {
        s.status = span_status::error;
        s.status_message = old->status;
      }
      s.actor = std::move(old->actor);
      s.type = std::move(old->type);
      s.envelope_id = std::move(old->envelope_id);
      s.attempt = old->attempt;
      s.first_event = old->first_event;
      s.events = old->events;
      for (auto& line : old->sent) {
        auto a = line.find(' ');
        auto b = a == std::string::npos ? a : line.find(' ', a + 1);
        s.sent.push_back(sent_message{line.substr(0, a),
                                      a == std::string::npos ? "" : line.substr(a + 1, b - a - 1),
                                      b == std::string::npos ? "" : line.substr(b + 1)});
      }
      std::string value;
      encode_span(value, s);
      chunk.put(column::trace, std::string{k}, std::move(value));
      return ++rows < rows_per_write;
    });
    if (err)
      return err;
    if (rows == 0)
      return {};
    if (auto werr = store.write(chunk, true))
      return werr;
    from = last;
    from.push_back('\0'); // the next row after it
  }
}

// 5 -> 6: the spans of one commit share a `trace` row (rows already there
// hold one span each and stay as they are), and the index is rebuilt off the
// commit path in sorted files (services.cpp, `index_spans`): its rows of
// layouts 4 and 5 (keys starting with a hex digit) go, and the indexer, with
// no cursor yet, indexes every row from the first.
caf::error span_rows_by_commit(storage&, write_set& ws) {
  ws.erase_range(column::trace_index, std::string{}, std::string{"i"});
  return {};
}

// 6 -> 7: a step span may name the one before it in its row instead of
// repeating their actor and message type (span_codec.hpp,
// `span_same_step_format`). Rows already there stay as they are; builds
// before this one would read such a member as damage, hence the version.
caf::error spans_name_the_one_before(storage&, write_set&) {
  return {};
}

// 7 -> 8: the first step span of such a run is short too
// (`span_step_head_format`), and short step spans leave out the trace, parent
// and span ids their envelope id gives (internal/derived_ids.hpp). Rows
// already there stay as they are.
caf::error spans_leave_out_derived_ids(storage&, write_set&) {
  return {};
}

constexpr migration migrations[] = {
  {1, "adds the outbox column family", add_outbox},
  {2, "journal events record their time, cause and trace", journal_audit},
  {3, "spans are kept in time order, found by trace id through an index", time_ordered_spans},
  {4, "spans have a compact encoding, with microsecond times", compact_spans},
  {5, "the spans of a commit share a row; the index is built off the commit path",
   span_rows_by_commit},
  {6, "a commit's step spans of one actor and type name them once", spans_name_the_one_before},
  {7, "step spans leave out the ids their message's id gives", spans_leave_out_derived_ids},
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
