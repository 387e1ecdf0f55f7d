// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cairn::test {

/// A child process whose stdin, stdout and stderr are pipes held by the test:
/// for `cairn mcp stdio`, where the test writes lines and reads lines back.
/// Killed with SIGKILL on destruction if still running, so tests leave no
/// process behind. One thread uses it at a time.
class stdio_child {
public:
  /// Starts `binary` with `args` (argv[0] is `binary`).
  stdio_child(std::string binary, std::vector<std::string> args);
  ~stdio_child();
  stdio_child(const stdio_child&) = delete;
  stdio_child& operator=(const stdio_child&) = delete;

  /// Writes `text` whole, reading stdout and stderr meanwhile so a child that
  /// answers while it reads cannot block on a full pipe. False if stdin is
  /// closed (the child exited) or `limit` passed first.
  bool write(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds{60});

  /// The next line of stdout (without its newline); nullopt if stdout closed
  /// or `limit` passed first.
  std::optional<std::string> read_line(std::chrono::milliseconds limit = std::chrono::seconds{60});

  /// Closes the child's stdin (end of input).
  void close_stdin();

  /// Waits for exit, reading its output meanwhile; returns the exit code,
  /// 128+signal if killed, or -1 on timeout (the child is then killed).
  int wait(std::chrono::milliseconds limit = std::chrono::seconds{120});

  bool running();
  int pid() const { return pid_; }
  /// Everything it wrote to stderr so far.
  const std::string& error_output();

private:
  /// Reads what stdout and stderr have, waiting at most `timeout_ms` for any.
  void drain(int timeout_ms);

  int pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string stdout_; ///< read but not yet returned by read_line
  std::string stderr_;
};

} // namespace cairn::test
