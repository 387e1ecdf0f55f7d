// SPDX-License-Identifier: Apache-2.0
// Delayed work of the MCP server on one thread. Not a public header.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace cairn::mcp {

/// Runs short functions at their deadlines, earliest first, on one thread
/// of its own: the optional-task grace period and the time limit of waiting
/// `tasks/result` requests. Why not a thread per wait: waits are client-driven
/// and unbounded in number; why not CAF timers: the front end lives outside
/// the actors and must not spend a scheduler thread on a client. Bounded:
/// `schedule` refuses past `max` pending functions. Thread-safe: every member
/// may be called from any thread, also from a function it runs; `stop` joins
/// the thread (unless called from it) and drops what did not run.
class deadline_queue {
public:
  using clock = std::chrono::steady_clock;

  explicit deadline_queue(size_t max);
  ~deadline_queue();
  deadline_queue(const deadline_queue&) = delete;
  deadline_queue& operator=(const deadline_queue&) = delete;

  /// Names one scheduled function, for `cancel`; 0 names none.
  using ticket = uint64_t;

  /// Runs `fn` at `when` (or soon after); its ticket, or 0 if full or stopped.
  ticket schedule(clock::time_point when, std::function<void()> fn);

  /// Drops the function of `t` unrun, so a deadline that no longer matters
  /// holds no room; false if it ran (or runs now) or never was.
  bool cancel(ticket t);

  /// Stops the thread; pending functions never run. Idempotent.
  void stop();

  /// Functions waiting now.
  size_t size() const;

private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  using entries = std::multimap<clock::time_point, std::pair<ticket, std::function<void()>>>;
  entries queue_;
  std::unordered_map<ticket, entries::iterator> by_ticket_;
  ticket next_ = 1;
  size_t max_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace cairn::mcp
