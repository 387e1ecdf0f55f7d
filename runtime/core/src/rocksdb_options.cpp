// SPDX-License-Identifier: Apache-2.0
// How the RocksDB database and its column families are configured and
// opened: memory budgets, the log bridge, insert hints, bloom filters by
// actor, the shared block cache.
#include "internal/rocksdb_options.hpp"
#include "internal/insert_hints.hpp"

#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdio>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

namespace cairn::internal {

namespace {

// RocksDB's own diagnostics go to our log, not to a LOG file in the data
// directory: one log stream for operators, and no file whose failed write on
// a full disk would leave RocksDB's log writer in an error state.
class rocksdb_log_bridge final : public rocksdb::Logger {
public:
  rocksdb_log_bridge() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel())
      return;
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL)
      spdlog::error("rocksdb: {}", buf);
    else if (level >= rocksdb::InfoLogLevel::WARN_LEVEL)
      spdlog::warn("rocksdb: {}", buf);
    else
      spdlog::debug("rocksdb: {}", buf);
  }
};

} // namespace

rocksdb::Options db_options() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Memory: memtables of all column families share one budget, so a burst
  // on one family cannot grow the node without bound (invariant 6).
  options.db_write_buffer_size = 256ull << 20;
  options.write_buffer_size = 32ull << 20;
  options.max_total_wal_size = 256ull << 20;
  options.IncreaseParallelism(2);
  // Writes are serialized here anyway (see `write`).
  options.allow_concurrent_memtable_write = false;
  options.info_log = std::make_shared<rocksdb_log_bridge>();
  // The span index's table files are written outside the database
  // (`ingest`) and so carry no unique id to check against the manifest;
  // every open of one would log a warning.
  options.verify_sst_unique_id_in_manifest = false;
  return options;
}

namespace {

/// The actor (or topic, or peer) of an `actor_seq` key (`id \0 be64(seq)`):
/// all but its last 8 bytes. Any other key, such as a bare `id \0` prefix,
/// has none (ids hold no `\0`, keys::actor_seq).
class actor_of_key final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "cairn.actor_of_key"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 9 && key[key.size() - 9] == '\0';
  }
};

/// 64-bit FNV-1a of a kind's name; never 0 (0 marks a free slot).
uint64_t kind_hash(std::string_view kind) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : kind) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

// The kinds without insert hints: an open-addressing table of name hashes,
// filled by registrations (rare) and read by every memtable insert, so
// without a lock. Two kinds whose hashes collide share the choice; it only
// changes how fast a row is placed.
constexpr size_t unhinted_slots = 2048;
std::array<std::atomic<uint64_t>, unhinted_slots> unhinted{};
std::atomic<size_t> unhinted_count{0};

/// `by_actor`, but actors of kinds without insert hints are outside its
/// domain, so RocksDB inserts their rows without one.
class hinted_actor_of_key final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "cairn.hinted_actor_of_key"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 9 && key[key.size() - 9] == '\0'
           && insert_hinted({key.data(), key.size() - 9});
  }
};

} // namespace

void skip_insert_hints(std::string_view kind) {
  auto h = kind_hash(kind);
  if (unhinted_count.load(std::memory_order_relaxed) >= unhinted_slots / 2)
    return; // full enough: the kind keeps its hints
  for (size_t i = h % unhinted_slots;; i = (i + 1) % unhinted_slots) {
    auto seen = unhinted[i].load(std::memory_order_acquire);
    if (seen == h)
      return;
    if (seen == 0) {
      uint64_t expected = 0;
      if (unhinted[i].compare_exchange_strong(expected, h, std::memory_order_acq_rel)) {
        unhinted_count.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (expected == h)
        return;
    }
  }
}

bool insert_hinted(std::string_view actor) {
  if (unhinted_count.load(std::memory_order_relaxed) == 0)
    return true;
  auto slash = actor.find('/');
  auto h = kind_hash(actor.substr(0, slash));
  for (size_t i = h % unhinted_slots;; i = (i + 1) % unhinted_slots) {
    auto seen = unhinted[i].load(std::memory_order_acquire);
    if (seen == h)
      return false;
    if (seen == 0)
      return true;
  }
}

const std::shared_ptr<const rocksdb::SliceTransform>& by_actor() {
  static const std::shared_ptr<const rocksdb::SliceTransform> t = std::make_shared<actor_of_key>();
  return t;
}

/// `by_actor` for the memtable's insert hints of the actor-keyed families:
/// actors of kinds registered with `skip_insert_hints` get none.
static const std::shared_ptr<const rocksdb::SliceTransform>& hinted_by_actor() {
  static const std::shared_ptr<const rocksdb::SliceTransform> t =
    std::make_shared<hinted_actor_of_key>();
  return t;
}

/// The families read one actor at a time by prefix (`scan` with an `id \0`
/// prefix): an activation reads its journal and its mailbox when it starts,
/// and most actors that start (a new MCP call, a new order) have neither.
bool read_by_actor(column c) {
  return c == column::mailbox || c == column::journal;
}

std::vector<rocksdb::ColumnFamilyDescriptor> column_families(const rocksdb::Options& options) {
  // One block cache for every family (RocksDB's default size), whichever
  // table factory reads it.
  static const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(8 << 20);
  // Table files' blocks carry XXH3 checksums, not CRC-32C: Debian's RocksDB
  // computes CRC-32C in software (no SSE 4.2 build), and the span indexer
  // reads every trace row back (bench/RESULTS.md, twenty-sixth stop). A file
  // names its checksum type, so files written before keep theirs.
  static const std::shared_ptr<rocksdb::TableFactory> plain = [] {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.checksum = rocksdb::kXXH3;
    return std::shared_ptr<rocksdb::TableFactory>{rocksdb::NewBlockBasedTableFactory(t)};
  }();
  // Bloom filters over whole keys and actor prefixes: an actor with no rows
  // in a table file is answered by its filter, not by its index and blocks.
  static const std::shared_ptr<rocksdb::TableFactory> filtered = [] {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.checksum = rocksdb::kXXH3;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    return std::shared_ptr<rocksdb::TableFactory>{rocksdb::NewBlockBasedTableFactory(t)};
  }();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  rocksdb::ColumnFamilyOptions base{options};
  base.table_factory = plain;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, base);
  for (size_t i = 0; i < column_count; ++i) {
    rocksdb::ColumnFamilyOptions cf{base};
    auto c = static_cast<column>(i);
    // Rows of one actor are written in ascending order, so the memtable can
    // insert each next to the previous one of its actor (an insert hint)
    // instead of searching the whole skip list from the top.
    if (c == column::mailbox || c == column::journal)
      cf.memtable_insert_with_hint_prefix_extractor = hinted_by_actor();
    else if (c == column::outbox || c == column::topic)
      cf.memtable_insert_with_hint_prefix_extractor = by_actor();
    if (read_by_actor(c)) {
      cf.prefix_extractor = by_actor();
      cf.memtable_prefix_bloom_size_ratio = 0.02;
      cf.table_factory = filtered;
    }
    // The index of spans by trace id arrives as sorted, ingested files
    // (`ingest`), a few a minute; its memtable holds only the migration's
    // and retention's deletions.
    if (c == column::trace_index)
      cf.write_buffer_size = 4ull << 20;
    cfs.emplace_back(to_string(c), cf);
  }
  return cfs;
}

// Opens the database with every column family; on success `handles` holds
// ours in `column` order (the default family's handle is released).
rocksdb::Status open_db(const std::string& dir, bool read_only, rocksdb::DB*& db,
                        std::vector<rocksdb::ColumnFamilyHandle*>& handles, rocksdb::Env* env) {
  auto options = db_options();
  if (env != nullptr)
    options.env = env;
  auto cfs = column_families(options);
  handles.clear();
  auto st = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, cfs, &handles, &db)
                      : rocksdb::DB::Open(options, dir, cfs, &handles, &db);
  if (st.ok()) {
    db->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
    handles.erase(handles.begin());
  }
  return st;
}

} // namespace cairn::internal
