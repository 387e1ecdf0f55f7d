// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace cairn::test {

/// The path of the `cairn` binary under test.
std::string cairn_binary();

/// A real `cairn` child process with its stdout and stderr captured.
/// Killed with SIGKILL on destruction if still running, so tests leave no
/// process behind.
class node_process {
public:
  explicit node_process(std::vector<std::string> args, std::string binary = cairn_binary());
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Waits until the output contains `text`; false if the process exited or
  /// `limit` passed first.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds limit = std::chrono::seconds{60});

  /// Sends `sig`.
  void signal(int sig);

  /// Waits for exit; returns the exit code, 128+signal if killed, or -1 on
  /// timeout (the process is then killed).
  int wait(std::chrono::milliseconds limit = std::chrono::seconds{120});

  bool running();
  /// True once the kernel reports the process stopped (SIGSTOP took effect):
  /// from then on it runs no instruction until SIGCONT.
  bool stopped() const;
  int pid() const { return pid_; }
  /// Everything the process printed so far (stdout and stderr interleaved).
  std::string output();

private:
  void drain(int timeout_ms);

  int pid_ = -1;
  int fd_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string out_;
};

} // namespace cairn::test
