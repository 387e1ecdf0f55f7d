// SPDX-License-Identifier: Apache-2.0
// Unguessable bytes for ids that are capabilities (call and task ids,
// session and stream ids). Not a public header.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include <sys/random.h>

namespace cairn::mcp {

/// Fills `out` with `n` bytes from the kernel's CSPRNG (`getrandom`), in
/// one system call for up to 256 bytes. `std::random_device`'s default
/// reads the CPU's RDSEED one 32-bit word at a time and retries it with
/// pauses when the instruction has nothing yet: under `tools/call` load
/// that was 17 % of a node's samples (bench/RESULTS.md). Requests of up to
/// 32 bytes are served from a per-thread buffer of the kernel's bytes,
/// refilled 256 at a time, each byte handed out once: one system call per
/// eight call ids instead of one per id.
inline void secure_random(void* out, size_t n) {
  auto* at = static_cast<unsigned char*>(out);
  constexpr size_t pool_size = 256;
  if (n <= 32) {
    thread_local unsigned char pool[pool_size];
    thread_local size_t used = pool_size;
    if (used + n > pool_size) {
      for (size_t got = 0; got < pool_size;) {
        auto r = ::getrandom(pool + got, pool_size - got, 0);
        if (r < 0) {
          if (errno == EINTR)
            continue;
          throw std::runtime_error(std::string{"getrandom: "} + std::strerror(errno));
        }
        got += static_cast<size_t>(r);
      }
      used = 0;
    }
    std::memcpy(at, pool + used, n);
    std::memset(pool + used, 0, n); // handed out: not kept in memory
    used += n;
    return;
  }
  while (n > 0) {
    auto got = ::getrandom(at, n, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      throw std::runtime_error(std::string{"getrandom: "} + std::strerror(errno));
    }
    at += got;
    n -= static_cast<size_t>(got);
  }
}

/// `n` unguessable lowercase hex digits.
inline std::string secure_random_hex(size_t n) {
  std::string bytes((n + 1) / 2, '\0');
  secure_random(bytes.data(), bytes.size());
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n, '0');
  for (size_t i = 0; i < n; ++i) {
    auto b = static_cast<unsigned char>(bytes[i / 2]);
    out[i] = digits[i % 2 == 0 ? b >> 4 : b & 0xf];
  }
  return out;
}

} // namespace cairn::mcp
