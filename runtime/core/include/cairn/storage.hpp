// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace cairn {

/// The column families of a node's database (DESIGN.md, "RocksDB layout").
enum class column : uint8_t {
  mailbox,      ///< actor id, seq -> envelope (keys: `id \0 be64(seq)`, see below)
  journal,      ///< actor id, seq -> event (keys: `id \0 be64(seq)`, see below)
  snapshot,     ///< actor id -> state + seq
  timer,        ///< due time, seq -> envelope
  dead,         ///< envelope id -> dead letter
  dedupe,       ///< receiver + idempotency key -> envelope id + expiry
  trace,        ///< be64(µs) + trace id + span id -> the spans of one commit (time order)
  topic,        ///< topic \0 seq -> event
  subscription, ///< topic \0 subscriber -> next offset
  meta,         ///< layout version, sequence high-water mark
  outbox,       ///< peer node, seq -> envelope for an actor that peer owns (layout 2)
  trace_index,  ///< 'i' + be32(hour) + trace id + `trace` key -> nothing: finds a trace's rows
};
inline constexpr size_t column_count = 12;

/// Returns the column family's name on disk.
const char* to_string(column c);

/// The on-disk layout this build reads and writes. An older version in
/// `meta` is migrated at open (runtime/core/src/layout.cpp lists each step);
/// a newer or unknown one is refused.
///   1: mailbox, journal, snapshot, timer, dead, dedupe, trace, topic,
///      subscription, meta
///   2: adds `outbox` (envelopes for actors another node owns)
///   3: journal rows record their time, cause and trace
///   4: spans are keyed by time in `trace` and found by trace id through
///      `trace_index`
///   5: span values have a compact encoding of their own, with microsecond
///      times, kind, status, attributes and links
///   6: the spans of one commit share one `trace` row, keyed by the commit's
///      time; `trace_index` is written in sorted files, off the commit path,
///      and bucketed by hour so retention drops whole ranges
///   7: a step span may name the step span before it in its row instead of
///      repeating their actor and message type
///   8: the first of such a run is short too, and short step spans leave out
///      the trace, parent and span ids their envelope id gives
inline constexpr uint32_t layout_version = 8;

/// A set of writes applied atomically, in order. A plain value; not thread-safe.
class write_set {
public:
  /// One write: a put or an erase of one key.
  struct op {
    column cf;         ///< the column family written
    bool erase;        ///< true: delete `key`; false: set it to `value`
    std::string key;   ///< the row's key
    std::string value; ///< the new value (empty for an erase)
    /// With `erase`: if not empty, every key in [`key`, `range_end`) is deleted.
    std::string range_end;
    /// With `erase` of one key: the key was written exactly once and never
    /// deleted since (see `erase_once`).
    bool once = false;
  };

  /// Adds a write of `value` at `key` in `cf`.
  void put(column cf, std::string key, std::string value) {
    ops_.push_back(op{cf, false, std::move(key), std::move(value), {}});
  }
  /// Adds a deletion of `key` in `cf`.
  void erase(column cf, std::string key) { ops_.push_back(op{cf, true, std::move(key), {}, {}}); }
  /// Adds a deletion of a key that was written exactly once and is deleted
  /// by nothing else: RocksDB can then drop the write and its deletion
  /// together (`SingleDelete`) instead of keeping a tombstone until the last
  /// level. A key written twice (overwritten) must use `erase`: a single
  /// deletion removes the newest write only and would bring the older back.
  void erase_once(column cf, std::string key) {
    ops_.push_back(op{cf, true, std::move(key), {}, {}, true});
  }
  /// Adds a deletion of every key from `from` (included) to `to` (excluded) in `cf`.
  void erase_range(column cf, std::string from, std::string to) {
    ops_.push_back(op{cf, true, std::move(from), {}, std::move(to)});
  }
  /// Adds a copy of every write of `other`, after those already here.
  void append(const write_set& other) {
    ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
  }
  /// Moves every write of `other` here, after those already here.
  void append(write_set&& other) {
    if (ops_.empty()) {
      ops_ = std::move(other.ops_);
      return;
    }
    ops_.insert(ops_.end(), std::make_move_iterator(other.ops_.begin()),
                std::make_move_iterator(other.ops_.end()));
  }
  /// True if the set holds no write.
  bool empty() const noexcept { return ops_.empty(); }
  /// The number of writes in the set.
  size_t size() const noexcept { return ops_.size(); }
  /// The writes, in the order they are applied.
  const std::vector<op>& ops() const noexcept { return ops_; }
  /// Removes every write.
  void clear() { ops_.clear(); }

private:
  std::vector<op> ops_;
};

/// Visitor for scans: return false to stop.
using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

/// Whether a storage takes writes now, and why not. A plain value.
struct storage_health {
  bool writable = true;        ///< false: writes fail until `storage::recover()` succeeds
  std::string reason;          ///< why not, while not writable
  uint64_t write_failures = 0; ///< writes refused or failed since open
  uint64_t outages = 0;        ///< times the storage became unwritable
};

/// Durable key-value storage with column families: the one interface the
/// runtime writes through. Every member may be called from any thread
/// concurrently; a `write` is atomic (all of it or none of it).
class storage {
public:
  virtual ~storage();

  /// Whether writes are possible now (a full disk makes them impossible until
  /// `recover()` succeeds). The default: always writable.
  virtual storage_health health() const { return {}; }

  /// Tries to make a failed storage writable again (reopening it); attempts
  /// are spaced with backoff, so calling often is cheap. True if writable.
  virtual bool recover() { return true; }

  /// Applies `ops` in one atomic write; with `sync`, fsyncs the log first.
  virtual caf::error write(const write_set& ops, bool sync) = 0;

  /// Adds `rows`, sorted by key with no key twice, to `cf` as a whole: at
  /// once and durably, without passing through the log and the memtable
  /// (RocksDB: one table file, ingested). For large sorted sets written off
  /// the commit path. The rows are views: they need to live only until it
  /// returns. Not virtual: it hands them to the `ingest_source` form, which
  /// a storage overrides (a subclass declares `using storage::ingest;` to
  /// keep this form visible beside its own).
  caf::error ingest(column cf,
                    const std::vector<std::pair<std::string_view, std::string_view>>& rows);

  /// The rows of an `ingest`, one at a time in key order: sets `key` and
  /// `value` to the next row and returns true, or returns false after the
  /// last. The strings are the caller's to reuse: a row need not outlive the
  /// call that produced it.
  using ingest_source = std::function<bool(std::string& key, std::string& value)>;

  /// `ingest`, with the rows produced as they are written instead of held
  /// all at once. The default writes them as one synced `write` (none for no row).
  virtual caf::error ingest(column cf, const ingest_source& next);

  /// Reads one value; `std::nullopt` if absent.
  virtual caf::expected<std::optional<std::string>> get(column cf, std::string_view key) = 0;

  /// Visits rows whose key starts with `prefix` and is >= `from` (or all of
  /// the prefix if `from` is empty), in key order, on a consistent snapshot.
  /// In `mailbox` and `journal` an `id \0` prefix reads one actor's rows
  /// through its bloom filters: there, every key must be `id \0 be64(seq)`
  /// (keys::actor_seq), as every writer in cairn makes them.
  virtual caf::error scan(column cf, std::string_view prefix, std::string_view from,
                          const scan_fn& fn) = 0;

  /// Visits the last row whose key starts with `prefix`, if any.
  virtual caf::error last(column cf, std::string_view prefix, const scan_fn& fn) = 0;

  /// Named integer properties worth exporting (pending compaction bytes, ...).
  virtual std::vector<std::pair<std::string, uint64_t>> properties() = 0;

  /// Bytes of the writes applied since the open, as the log records them
  /// (RocksDB: each write batch's data, keys and values with their framing);
  /// what the commit path costs the disk. The default: 0, not counted.
  virtual uint64_t bytes_written() const { return 0; }

  /// Flushes memtables and the log; called on clean shutdown.
  virtual caf::error flush() = 0;
};

/// How to open a node's database.
struct storage_options {
  std::string dir; ///< the database directory (created if missing, unless read-only)
  /// Open for reading only: nothing is created, written or migrated (a
  /// database without the current layout version is refused).
  bool read_only = false;
  /// Each new write-ahead log starts on a file of this many zero bytes
  /// written ahead (`wal.spare` in `dir`), so a synced commit writes its
  /// data and flushes without also writing the file's new size; once taken,
  /// the next spare is written in the background. 0: logs start empty.
  /// Worth it with synced commits only.
  uint64_t wal_spare_bytes = 0;
};

/// Opens (or creates) the RocksDB database in `opts.dir`, checks its layout
/// version and creates missing column families. Fails with `storage_in_use`
/// when another process holds the directory and `unknown_layout` for a
/// layout this build does not know.
caf::expected<std::unique_ptr<storage>> open_rocksdb(const storage_options& opts);

} // namespace cairn
