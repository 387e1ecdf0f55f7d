// SPDX-License-Identifier: Apache-2.0
// Write-ahead logs started on a file written ahead: with a synced commit, an
// `fdatasync` after an append that grows the file must also write the
// file's size (on ext4 without a journal, a synchronous write of the inode
// block: one more disk round trip per commit); after an append into bytes
// the file has already, it writes the data and flushes, nothing more.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <rocksdb/file_system.h>

namespace cairn::internal {

/// The file system RocksDB opens the database through: every call goes to
/// the default one, except that a new write-ahead log in `dir` starts on the
/// spare (`dir/wal.spare`, `bytes` of zeros, written and synced ahead) when
/// one is ready. RocksDB writes its log from the start of the file; the
/// zeros after the last record read as the end of the log (a zero-length
/// record of type 0, which its reader skips without reporting a loss), so a
/// crash recovers exactly what a grown file would hold. A clean close trims
/// the zeros (RocksDB truncates a preallocated log to what it wrote).
///
/// Once the spare is taken, the next one is written on a thread of its own,
/// for the log after this one. No spare is written while the file system
/// has less than 8 times its size free, and one that cannot be written
/// whole is removed (a log then starts as an empty file, as without this).
class wal_spare_fs final : public rocksdb::FileSystemWrapper {
public:
  wal_spare_fs(std::string dir, uint64_t bytes);
  ~wal_spare_fs() override;

  wal_spare_fs(const wal_spare_fs&) = delete;
  wal_spare_fs& operator=(const wal_spare_fs&) = delete;

  const char* Name() const override { return "cairn.wal_spare"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;

  /// Before the database opens: removes a half-written spare a crash left,
  /// and writes the spare now unless a whole one is there (so the log the
  /// open starts is on one).
  void prepare();

  /// Logs started on a spare since this was made.
  uint64_t used() const { return used_.load(); }

  /// The spare file's path.
  const std::string& spare_path() const { return spare_; }

private:
  bool is_log(const std::string& fname) const;
  /// On the calling thread; true if a whole spare is ready. `paced`: in
  /// synced chunks with pauses (beside a running log).
  bool write_spare(bool paced);
  void refill(); // the refill thread's loop

  std::string dir_;
  std::string spare_;
  std::string partial_;
  uint64_t bytes_;
  std::atomic<uint64_t> used_{0};
  std::mutex mtx_;
  std::condition_variable cv_;
  bool ready_ = false;  // a whole spare is in place (guarded by mtx_)
  bool wanted_ = false; // the refill thread should write one (guarded by mtx_)
  bool stopping_ = false;
  std::atomic<bool> abort_{false}; // checked between chunks of a spare being written
  std::thread refill_;
};

} // namespace cairn::internal
