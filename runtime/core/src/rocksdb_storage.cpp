// SPDX-License-Identifier: Apache-2.0
// The RocksDB adapter: with rocksdb_options.cpp (how the database and its
// column families are configured and opened) the only files that include
// RocksDB, and the only place where rocksdb::Status becomes a cairn error.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include <cstdarg>
#include <cstdio>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "cairn/envelope.hpp"
#include "cairn/error.hpp"
#include "cairn/storage.hpp"
#include "internal/keys.hpp"
#include "internal/layout.hpp"
#include "internal/rocksdb_options.hpp"
#include "internal/wal_spare.hpp"

namespace cairn {

storage::~storage() = default;

caf::error storage::ingest(column cf,
                           const std::vector<std::pair<std::string_view, std::string_view>>& rows) {
  size_t at = 0;
  return ingest(cf, [&](std::string& key, std::string& value) {
    if (at == rows.size())
      return false;
    key.assign(rows[at].first);
    value.assign(rows[at].second);
    ++at;
    return true;
  });
}

caf::error storage::ingest(column cf, const ingest_source& next) {
  write_set ws;
  std::string key, value;
  while (next(key, value))
    ws.put(cf, key, value);
  return ws.empty() ? caf::error{} : write(ws, true);
}

const char* to_string(column c) {
  switch (c) {
    case column::mailbox: return "mailbox";
    case column::journal: return "journal";
    case column::snapshot: return "snapshot";
    case column::timer: return "timer";
    case column::dead: return "dead";
    case column::dedupe: return "dedupe";
    case column::trace: return "trace";
    case column::topic: return "topic";
    case column::subscription: return "subscription";
    case column::meta: return "meta";
    case column::outbox: return "outbox";
    case column::trace_index: return "trace_index";
  }
  return "?";
}

using internal::by_actor;
using internal::column_families;
using internal::db_options;
using internal::open_db;
using internal::read_by_actor;

namespace {

caf::error from_status(const rocksdb::Status& st, errc code, const std::string& what) {
  return make_error(code, what + ": " + st.ToString());
}

class rocksdb_storage final : public storage {
public:
  rocksdb_storage(std::string dir, rocksdb::DB* db,
                  std::vector<rocksdb::ColumnFamilyHandle*> handles,
                  std::shared_ptr<internal::wal_spare_fs> spare, std::unique_ptr<rocksdb::Env> env)
    : dir_(std::move(dir)), spare_(std::move(spare)), env_(std::move(env)), db_(db),
      handles_(std::move(handles)) {}

  ~rocksdb_storage() override { close(); }

  // The batch is built and written under the shared lock: `recover()` destroys
  // and recreates the column family handles under the exclusive one.
  caf::error write(const write_set& ops, bool sync) override {
    if (failed_.load() && !recover())
      return refused();
    // One write at a time: the node has one writer (the commit coordinator)
    // anyway, so this costs nothing there, and RocksDB never forms write
    // groups whose leader copies other threads' batches (a handoff through
    // atomics that ThreadSanitizer cannot see in Debian's uninstrumented
    // librocksdb).
    std::lock_guard<std::mutex> serial{write_mtx_};
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr || failed_.load() || read_only_)
      return refused();
    rocksdb::WriteBatch batch;
    for (const auto& op : ops.ops()) {
      auto* cf = handle(op.cf);
      auto st = !op.erase               ? batch.Put(cf, op.key, op.value)
                : !op.range_end.empty() ? batch.DeleteRange(cf, op.key, op.range_end)
                : op.once               ? batch.SingleDelete(cf, op.key)
                                        : batch.Delete(cf, op.key);
      if (!st.ok())
        return from_status(st, errc::storage_write_failed, "cannot build write batch");
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    auto st = db_->Write(wo, &batch);
    if (!st.ok()) {
      mark_failed(st.ToString());
      return from_status(st, errc::storage_write_failed, "write failed");
    }
    bytes_written_.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
    return {};
  }

  uint64_t bytes_written() const override { return bytes_written_.load(std::memory_order_relaxed); }

  // The rows become one table file beside the database, which RocksDB then
  // moves in (one manifest write: all of them or none, durable once done).
  using storage::ingest;

  caf::error ingest(column c, const ingest_source& next) override {
    std::string key, value;
    if (!next(key, value))
      return {};
    if (failed_.load() && !recover())
      return refused();
    auto path = dir_ + "/" + ingest_prefix + std::to_string(ingests_.fetch_add(1) + 1) + ".sst";
    rocksdb::Status st;
    {
      // The file is written beside the database, writes going on meanwhile.
      std::shared_lock<std::shared_mutex> guard{mtx_};
      if (db_ == nullptr || failed_.load() || read_only_)
        return refused();
      auto* cf = handle(c);
      rocksdb::Options options{rocksdb::DBOptions{}, db_->GetOptions(cf)};
      options.compression = rocksdb::kNoCompression;
      // The file's pages stay cached: the ingestion reads its footer, index
      // and properties back right away.
      rocksdb::SstFileWriter writer{rocksdb::EnvOptions{}, options, cf,
                                    /*invalidate_page_cache=*/false};
      st = writer.Open(path);
      for (bool more = true; st.ok() && more; more = next(key, value))
        st = writer.Put(key, value);
      if (st.ok())
        st = writer.Finish();
    }
    if (st.ok()) {
      // Ingesting stops writes while it gives the file its sequence number:
      // it takes its turn with them, in `write`'s lock order (see there).
      std::lock_guard<std::mutex> serial{write_mtx_};
      std::shared_lock<std::shared_mutex> guard{mtx_};
      if (db_ == nullptr || failed_.load() || read_only_) {
        st = rocksdb::Status::Aborted("storage is not writable");
      } else {
        rocksdb::IngestExternalFileOptions io;
        io.move_files = true;
        st = db_->IngestExternalFile(handle(c), {path}, io);
      }
    }
    std::error_code ec;
    std::filesystem::remove(path, ec); // moved in (a link), or failed: not needed either way
    if (!st.ok())
      return from_status(st, errc::storage_write_failed, "cannot ingest table file");
    return {};
  }

  /// Names of table files being ingested; one left by a crash is removed at open.
  static constexpr const char* ingest_prefix = "ingest-";

  storage_health health() const override {
    std::lock_guard<std::mutex> guard{state_mtx_};
    storage_health h;
    h.writable = !failed_.load();
    h.reason = h.writable ? std::string{} : reason_;
    h.write_failures = write_failures_;
    h.outages = outages_;
    return h;
  }

  // After a failed write RocksDB keeps its log writer in an error state and
  // refuses (or, in builds with assertions, aborts on) further log writes;
  // `Resume()` does not cover log write errors. So the database is closed and
  // reopened, which replays the log: everything acknowledged is still there.
  // While the reopen fails (a full disk), the database is opened read-only so
  // reads keep working. Attempts back off from 100 ms to 2 s.
  bool recover() override {
    if (!failed_.load())
      return true;
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> guard{state_mtx_};
      if (now < next_attempt_)
        return false;
      next_attempt_ = now + backoff_;
    }
    std::unique_lock<std::shared_mutex> guard{mtx_};
    if (!failed_.load())
      return true;
    close();
    auto st = open_db(dir_, false, db_, handles_, env_.get());
    if (st.ok()) {
      // Opening may need no new space; a synced probe write proves the
      // disk takes writes again, so a full disk does not flap.
      rocksdb::WriteOptions wo;
      wo.sync = true;
      st = db_->Put(wo, handle(column::meta), "probe", std::to_string(now_ms()));
      if (!st.ok())
        close();
    }
    if (st.ok()) {
      read_only_ = false;
      std::lock_guard<std::mutex> g{state_mtx_};
      failed_.store(false);
      backoff_ = std::chrono::milliseconds{100};
      next_attempt_ = {};
      auto secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at_).count();
      spdlog::warn("storage is writable again after {:.1f} s ({} writes refused meanwhile)", secs,
                   write_failures_ - failures_at_outage_);
      return true;
    }
    db_ = nullptr;
    auto ro = open_db(dir_, true, db_, handles_, env_.get());
    read_only_ = ro.ok();
    if (!ro.ok())
      db_ = nullptr;
    std::lock_guard<std::mutex> g{state_mtx_};
    reason_ = "cannot reopen storage after a failed write: " + st.ToString();
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds{2});
    spdlog::debug("storage reopen failed (next attempt in {} ms): {}", backoff_.count(),
                  st.ToString());
    return false;
  }

  caf::expected<std::optional<std::string>> get(column cf, std::string_view key) override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr)
      return closed();
    std::string value;
    auto st =
      db_->Get(rocksdb::ReadOptions{}, handle(cf), rocksdb::Slice{key.data(), key.size()}, &value);
    if (st.IsNotFound())
      return std::optional<std::string>{};
    if (!st.ok())
      return from_status(st, errc::storage_read_failed, "read failed");
    return std::optional<std::string>{std::move(value)};
  }

  caf::error scan(column cf, std::string_view prefix, std::string_view from,
                  const scan_fn& fn) override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr)
      return closed();
    rocksdb::ReadOptions ro;
    std::string upper;
    rocksdb::Slice upper_slice;
    std::string start{from.empty() || from < prefix ? prefix : from};
    // One actor's rows (an `id \0` prefix) in a family with actor filters:
    // a prefix seek, which the memtable's and each table file's bloom filter
    // answer for an actor that has no rows there. It starts from a whole
    // key (the bare prefix has no actor of its own). Anything else: a scan
    // in key order.
    if (read_by_actor(cf) && !prefix.empty() && prefix.back() == '\0') {
      if (start.size() == prefix.size())
        keys::append_be64(start, 0);
      ro.prefix_same_as_start = by_actor()->InDomain(start);
    }
    ro.total_order_seek = !ro.prefix_same_as_start;
    if (!prefix.empty() && successor(prefix, upper)) {
      upper_slice = rocksdb::Slice{upper};
      ro.iterate_upper_bound = &upper_slice;
    }
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, handle(cf))};
    for (it->Seek(rocksdb::Slice{start.data(), start.size()}); it->Valid(); it->Next()) {
      auto k = it->key();
      std::string_view key{k.data(), k.size()};
      if (key.substr(0, prefix.size()) != prefix)
        break;
      auto v = it->value();
      if (!fn(key, std::string_view{v.data(), v.size()}))
        break;
    }
    if (!it->status().ok())
      return from_status(it->status(), errc::storage_read_failed, "scan failed");
    return {};
  }

  caf::error last(column cf, std::string_view prefix, const scan_fn& fn) override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr)
      return closed();
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true; // key order, whatever the family's prefix filters
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, handle(cf))};
    std::string upper;
    if (!prefix.empty() && successor(prefix, upper))
      it->SeekForPrev(upper);
    else
      it->SeekToLast();
    // SeekForPrev lands on the upper bound itself if it exists: step back.
    if (it->Valid() && !upper.empty() && it->key() == rocksdb::Slice{upper})
      it->Prev();
    if (it->Valid()) {
      auto k = it->key();
      std::string_view key{k.data(), k.size()};
      if (key.substr(0, prefix.size()) == prefix) {
        auto v = it->value();
        fn(key, std::string_view{v.data(), v.size()});
      }
    }
    if (!it->status().ok())
      return from_status(it->status(), errc::storage_read_failed, "reverse scan failed");
    return {};
  }

  std::vector<std::pair<std::string, uint64_t>> properties() override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr)
      return {};
    std::vector<std::pair<std::string, uint64_t>> out;
    // Per column family, summed over all of them (cairn writes none to the
    // default family, so reading only that one would show nothing).
    for (const char* name :
         {"rocksdb.estimate-pending-compaction-bytes", "rocksdb.cur-size-all-mem-tables",
          "rocksdb.total-sst-files-size", "rocksdb.estimate-num-keys"}) {
      uint64_t value = 0;
      if (db_->GetAggregatedIntProperty(name, &value))
        out.emplace_back(name, value);
    }
    // The database's own.
    for (const char* name : {"rocksdb.actual-delayed-write-rate", "rocksdb.is-write-stopped",
                             "rocksdb.num-running-compactions"}) {
      uint64_t value = 0;
      if (db_->GetIntProperty(name, &value))
        out.emplace_back(name, value);
    }
    // Logs started on a spare file of zeros (`wal_spare_bytes`), since the open.
    if (spare_)
      out.emplace_back("wal.logs-on-spare", spare_->used());
    return out;
  }

  caf::error flush() override {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (db_ == nullptr || failed_.load())
      return make_error(errc::storage_write_failed,
                        "storage is in a failed state; nothing to flush");
    auto st = db_->FlushWAL(true);
    if (!st.ok())
      return from_status(st, errc::storage_write_failed, "cannot flush the log");
    // Memtables to table files too, so the next start need not replay the log.
    rocksdb::FlushOptions fo;
    st = db_->Flush(fo, handles_);
    if (!st.ok())
      return from_status(st, errc::storage_write_failed, "cannot flush memtables");
    return {};
  }

private:
  void close() {
    if (db_ == nullptr)
      return;
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles_.clear();
    db_->Close().PermitUncheckedError();
    delete db_;
    db_ = nullptr;
  }

  // The first failure of an outage is logged; later ones only counted.
  void mark_failed(const std::string& why) {
    std::lock_guard<std::mutex> guard{state_mtx_};
    ++write_failures_;
    if (failed_.exchange(true))
      return;
    ++outages_;
    failed_at_ = std::chrono::steady_clock::now();
    failures_at_outage_ = write_failures_ - 1;
    reason_ = "a write failed: " + why;
    next_attempt_ = failed_at_ + backoff_;
    spdlog::error("storage is not writable ({}); refusing new work and retrying in the background",
                  why);
  }

  caf::error refused() {
    std::lock_guard<std::mutex> guard{state_mtx_};
    ++write_failures_;
    return make_error(errc::storage_write_failed, "storage is not writable: " + reason_);
  }

  caf::error closed() const {
    std::lock_guard<std::mutex> guard{state_mtx_};
    return make_error(errc::storage_read_failed, "storage is closed: " + reason_);
  }

  rocksdb::ColumnFamilyHandle* handle(column cf) const { return handles_[static_cast<size_t>(cf)]; }

  // The smallest string greater than every string starting with `prefix`.
  static bool successor(std::string_view prefix, std::string& out) {
    out.assign(prefix);
    while (!out.empty()) {
      auto& c = reinterpret_cast<unsigned char&>(out.back());
      if (c != 0xff) {
        ++c;
        return true;
      }
      out.pop_back();
    }
    return false;
  }

  std::string dir_;
  // The file system and environment the database is opened through (when
  // logs start on spares): they outlive it.
  std::shared_ptr<internal::wal_spare_fs> spare_;
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_mutex mtx_; // shared: every use of db_ and handles_; exclusive: recover
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  bool read_only_ = false; // opened read-only while the reopen fails (guarded by mtx_)
  std::atomic<bool> failed_{false};
  std::mutex write_mtx_; ///< serialises `write`
  std::atomic<uint64_t> ingests_{0};
  std::atomic<uint64_t> bytes_written_{0}; ///< write batches' data since the open
  // Guarded by state_mtx_ (never held while waiting for mtx_).
  mutable std::mutex state_mtx_;
  std::string reason_;
  uint64_t write_failures_ = 0;
  uint64_t outages_ = 0;
  uint64_t failures_at_outage_ = 0;
  std::chrono::steady_clock::time_point failed_at_{};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{100};
};

} // namespace

caf::expected<std::unique_ptr<storage>> open_rocksdb(const storage_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!opts.read_only) {
    fs::create_directories(opts.dir, ec);
    if (ec)
      return make_error(errc::storage_open_failed,
                        "cannot create data directory " + opts.dir + ": " + ec.message());
  }
  auto options = db_options();
  // Refuse layouts we do not know before touching anything.
  std::vector<std::string> existing;
  auto st = rocksdb::DB::ListColumnFamilies(options, opts.dir, &existing);
  bool fresh = !st.ok(); // no database yet
  auto cfs = column_families(options);
  if (!fresh) {
    for (const auto& name : existing) {
      bool known = name == rocksdb::kDefaultColumnFamilyName;
      for (const auto& cf : cfs)
        known = known || cf.name == name;
      if (!known)
        return make_error(errc::unknown_layout,
                          "data directory " + opts.dir + " has column family '" + name
                            + "', which this cairn build (layout version "
                            + std::to_string(layout_version)
                            + ") does not know; use the cairn release that wrote it");
    }
  }
  if (!opts.read_only && !fresh) // table files a crash left before they were ingested
    for (const auto& entry : fs::directory_iterator(opts.dir, ec))
      if (entry.path().filename().string().rfind(rocksdb_storage::ingest_prefix, 0) == 0)
        fs::remove(entry.path(), ec);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  std::shared_ptr<internal::wal_spare_fs> spare;
  std::unique_ptr<rocksdb::Env> env;
  if (!opts.read_only && opts.wal_spare_bytes > 0) {
    spare = std::make_shared<internal::wal_spare_fs>(opts.dir, opts.wal_spare_bytes);
    spare->prepare();
    env = rocksdb::NewCompositeEnv(spare);
  }
  st = open_db(opts.dir, opts.read_only, db, handles, env.get());
  if (!st.ok()) {
    auto msg = st.ToString();
    if (msg.find("lock") != std::string::npos
        || msg.find("Resource temporarily") != std::string::npos)
      return make_error(errc::storage_in_use,
                        "data directory " + opts.dir
                          + " is in use by another cairn node; stop it or choose another --data");
    return make_error(errc::storage_open_failed, "cannot open " + opts.dir + ": " + msg);
  }
  auto result = std::make_unique<rocksdb_storage>(opts.dir, db, std::move(handles),
                                                  std::move(spare), std::move(env));
  auto version = result->get(column::meta, "layout");
  if (!version)
    return std::move(version.error());
  if (!*version) {
    if (opts.read_only)
      return make_error(errc::unknown_layout,
                        "data directory " + opts.dir + " has no layout version");
    write_set ws;
    ws.put(column::meta, "layout", std::to_string(layout_version));
    if (auto err = result->write(ws, true))
      return err;
  } else if (**version != std::to_string(layout_version)) {
    if (opts.read_only)
      return make_error(errc::unknown_layout, "data directory " + opts.dir + " has layout version "
                                                + **version + "; open it read-write to migrate");
    if (auto err = internal::migrate_layout(*result, opts.dir, **version))
      return err;
  }
  return std::unique_ptr<storage>{std::move(result)};
}

} // namespace cairn
