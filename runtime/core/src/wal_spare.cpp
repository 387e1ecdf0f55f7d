// SPDX-License-Identifier: Apache-2.0
#include "internal/wal_spare.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace cairn::internal {

namespace {

constexpr size_t chunk = size_t{1} << 20;

const char* zeros() {
  static const std::string z(chunk, '\0');
  return z.data();
}

std::string trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

} // namespace

wal_spare_fs::wal_spare_fs(std::string dir, uint64_t bytes)
  : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), dir_(trimmed(std::move(dir))),
    spare_(dir_ + "/wal.spare"), partial_(dir_ + "/wal.spare.partial"), bytes_(bytes),
    refill_([this] { refill(); }) {}

wal_spare_fs::~wal_spare_fs() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  abort_.store(true);
  cv_.notify_all();
  refill_.join();
}

bool wal_spare_fs::is_log(const std::string& fname) const {
  // RocksDB names its logs `<wal dir>/<number>.log`; the wal dir is the
  // database directory here.
  auto slash = fname.rfind('/');
  if (slash == std::string::npos || trimmed(fname.substr(0, slash)) != dir_)
    return false;
  auto name = std::string_view{fname}.substr(slash + 1);
  if (name.size() <= 4 || name.substr(name.size() - 4) != ".log")
    return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

rocksdb::IOStatus wal_spare_fs::NewWritableFile(const std::string& fname,
                                                const rocksdb::FileOptions& opts,
                                                std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                rocksdb::IODebugContext* dbg) {
  if (is_log(fname)) {
    bool take = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      take = std::exchange(ready_, false);
    }
    rocksdb::IOStatus st;
    if (take) {
      // Renamed to the log's name and written from its start, not truncated.
      st = target()->ReuseWritableFile(fname, spare_, opts, result, dbg);
      if (st.ok())
        used_.fetch_add(1);
      else
        spdlog::debug("the log {} could not start on the spare ({}); it starts empty", fname,
                      st.ToString());
    }
    // The next spare, for the log after this one, once this one is renamed.
    {
      std::lock_guard<std::mutex> guard{mtx_};
      wanted_ = true;
    }
    cv_.notify_one();
    if (take && st.ok())
      return st;
  }
  return target()->NewWritableFile(fname, opts, result, dbg);
}

void wal_spare_fs::prepare() {
  ::unlink(partial_.c_str());
  struct stat sb {};
  bool whole = ::stat(spare_.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)
               && static_cast<uint64_t>(sb.st_size) == bytes_;
  if (!whole) {
    ::unlink(spare_.c_str()); // of another size: written again, if there is room
    whole = write_spare(false);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  ready_ = whole;
}

bool wal_spare_fs::write_spare(bool paced) {
  // A spare is only ever whole: written under another name, synced, then
  // renamed over whatever is there (a crash leaves the partial one, removed
  // by `prepare`).
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0
      || static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize / 8 < bytes_) {
    spdlog::debug("no spare log file in {}: less than {} bytes free", dir_, bytes_ * 8);
    return false;
  }
  int fd = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return false;
  uint64_t left = bytes_;
  bool ok = true;
  while (ok && left > 0 && !abort_.load()) {
    auto n = ::write(fd, zeros(), static_cast<size_t>(std::min<uint64_t>(left, chunk)));
    if (n > 0)
      left -= static_cast<uint64_t>(n);
    else if (n == 0) {
      errno = ENOSPC; // nothing written and no error: the disk took no more
      ok = false;
    } else if (errno != EINTR)
      ok = false;
    // Beside a running log: a chunk at a time to the disk, with a pause,
    // so the log's own syncs never wait behind the whole spare (written
    // and synced at once, it raised p99 accept latency at batch 512 from
    // 33-48 to 48-87 ms in the run that rotated the log).
    if (paced && ok && n > 0) {
      ok = ::fdatasync(fd) == 0;
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }
  int err = ok ? 0 : errno;
  ok = ok && left == 0 && ::fdatasync(fd) == 0;
  ::close(fd);
  if (ok && ::rename(partial_.c_str(), spare_.c_str()) == 0)
    return true;
  if (err != 0)
    spdlog::debug("no spare log file in {}: {}", dir_, std::strerror(err));
  ::unlink(partial_.c_str());
  return false;
}

void wal_spare_fs::refill() {
  pthread_setname_np(pthread_self(), "cairn.walspare");
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || wanted_; });
    if (stopping_)
      return;
    wanted_ = false;
    if (ready_)
      continue;
    lock.unlock();
    bool whole = write_spare(true);
    lock.lock();
    ready_ = whole && !stopping_;
  }
}

} // namespace cairn::internal
