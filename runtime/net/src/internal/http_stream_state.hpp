// SPDX-License-Identifier: Apache-2.0
// An event stream's shared state: written by the handler (any thread),
// drained by the connection serving it (http_server.cpp, stream_body).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cairn/http.hpp"

namespace cairn {

/// What a handler queued and the connection has not sent yet, and how the
/// handler reaches that connection: `wake` when there is more to send,
/// `abort` to cancel its pending I/O (both set by the connection, through
/// weak references to it). `on_end` runs once, when the stream ends.
struct http_stream::state {
  explicit state(size_t max) : max_queued(max) {}

  mutable std::mutex mu;
  std::deque<std::string> queue;
  size_t max_queued;
  size_t queued = 0;       // bytes written by the handler, not yet sent
  bool closed = false;     // by the handler: finish once drained
  bool ended = false;      // no more writes accepted
  bool overflowed = false; // the client fell behind: drop the connection
  std::function<void()> wake;
  std::function<void()> abort; // cancels the connection's pending I/O
  std::vector<std::function<void()>> on_end;

  void finish() {
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard lock{mu};
      if (ended && on_end.empty())
        return;
      ended = true;
      fns.swap(on_end);
    }
    for (auto& fn : fns)
      fn();
  }
};

} // namespace cairn
