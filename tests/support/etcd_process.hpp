// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "node_process.hpp"
#include "temp_dir.hpp"

namespace cairn::test {

/// A free TCP port on 127.0.0.1 (bound, read, released: another process
/// may take it before it is used, which tests treat as a start failure).
uint16_t free_port();

/// A real etcd (Debian's `/usr/bin/etcd`) on free loopback ports with a
/// temp data directory, started for one test and killed (SIGKILL) with
/// it, so tests leave no process behind.
class etcd_process {
public:
  etcd_process();
  /// Where clients reach it: `http://127.0.0.1:PORT`.
  const std::string& url() const { return url_; }
  /// Stops it (SIGKILL); `start()` again on the same data and ports.
  void kill();
  void start();
  bool running();

private:
  temp_dir dir_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string url_;
  std::unique_ptr<node_process> proc_;
};

} // namespace cairn::test
