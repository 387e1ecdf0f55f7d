// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace cairn::test {

/// A small tmpfs mounted on `dir` (tests run as root), unmounted on
/// destruction in all cases, so a full disk can be made and freed for real.
class tmpfs_mount {
public:
  tmpfs_mount(std::string dir, size_t megabytes) : dir_(std::move(dir)) {
    auto opts = "size=" + std::to_string(megabytes) + "m";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      throw std::runtime_error("cannot mount a tmpfs on " + dir_ + ": " + std::strerror(errno)
                               + " (the disk-full tests need root)");
  }
  ~tmpfs_mount() {
    // MNT_DETACH: a process that still holds files there cannot keep it mounted.
    ::umount2(dir_.c_str(), MNT_DETACH);
  }
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  const std::string& dir() const { return dir_; }

  /// Bytes still free on the mount.
  uint64_t free_bytes() const {
    struct statvfs st {};
    if (::statvfs(dir_.c_str(), &st) != 0)
      return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  /// Writes `name` until only `leave` bytes are free (or the mount is full).
  void fill(const std::string& name, uint64_t leave) {
    auto fd = ::open((dir_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
      throw std::runtime_error("cannot create filler file: " + std::string{std::strerror(errno)});
    char block[64 * 1024] = {};
    for (;;) {
      auto room = free_bytes();
      if (room <= leave)
        break;
      auto n = std::min<uint64_t>(sizeof block, room - leave);
      if (::write(fd, block, n) <= 0)
        break;
    }
    ::close(fd);
  }

  /// Deletes a file written by `fill`.
  void release(const std::string& name) { ::unlink((dir_ + "/" + name).c_str()); }

private:
  std::string dir_;
};

} // namespace cairn::test
