// SPDX-License-Identifier: Apache-2.0
// The runtime's CAF scheduler (internal/scheduler.hpp): its shared queue
// runs every job it is given, however the pushes race the workers falling
// asleep.
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "cairn/runtime.hpp"
#include "internal/scheduler.hpp"

using namespace cairn;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CAIRN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CAIRN_TSAN 1
#endif

namespace {

// ThreadSanitizer checks every hand-off between threads, and reports (then
// suppresses, tests/tsan.supp) each of CAF's own mailbox hand-offs, some
// milliseconds apiece: fewer messages there, the same shapes of traffic.
#ifdef CAIRN_TSAN
constexpr size_t per_sender = 250, wake_rounds = 200;
#else
constexpr size_t per_sender = 20000, wake_rounds = 3000;
#endif

using pass_atom = caf::atom_constant<caf::atom("pass")>;

/// Counts each message it is sent, after handing it on once to `next`
/// (a job queued from a worker, not from outside).
caf::behavior relay(caf::event_based_actor* self, std::atomic<uint64_t>* counted,
                    std::vector<caf::actor>* ring, size_t next) {
  return {
    [=](pass_atom, bool onward) {
      if (onward)
        self->send((*ring)[next], pass_atom::value, false);
      else
        counted->fetch_add(1);
    },
  };
}

/// Sends `per_thread` messages from each of `threads` threads outside the
/// actor system, to actors chosen by a seeded generator; every message is
/// passed on once, so the workers queue as many jobs as the outside does.
/// Returns what the actors counted once every message is in, or once a
/// minute passes without one more (a job the queue lost).
uint64_t drive(scheduling policy, size_t workers, size_t threads, size_t per_thread) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  cfg.set("logger.console", caf::atom("none"));
  internal::install_scheduler(cfg, policy);
  std::atomic<uint64_t> counted{0};
  uint64_t expected = static_cast<uint64_t>(threads) * per_thread;
  {
    caf::actor_system sys{cfg};
    std::vector<caf::actor> ring(97);
    for (size_t i = 0; i < ring.size(); ++i)
      ring[i] = sys.spawn(relay, &counted, &ring, (i + 1) % ring.size());
    std::vector<std::thread> senders;
    for (size_t t = 0; t < threads; ++t)
      senders.emplace_back([&, t] {
        std::mt19937 pick{static_cast<uint32_t>(1000 + t)};
        for (size_t i = 0; i < per_thread; ++i) {
          caf::anon_send(ring[pick() % ring.size()], pass_atom::value, true);
          // Now and then a pause long enough for the workers to sleep, so
          // pushes meet workers on their way to sleep as well as awake.
          if (pick() % 512 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds{pick() % 200});
        }
      });
    for (auto& s : senders)
      s.join();
    auto last = counted.load();
    auto last_change = std::chrono::steady_clock::now();
    while (counted.load() < expected
           && std::chrono::steady_clock::now() - last_change < std::chrono::minutes{1}) {
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      if (counted.load() != last) {
        last = counted.load();
        last_change = std::chrono::steady_clock::now();
      }
    }
    for (auto& a : ring)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  return counted.load();
}

/// Sends one message at a time and waits for it to be counted before the
/// next: each push finds the workers asleep or falling asleep, the case in
/// which a lost wake-up leaves a job queued with nobody to run it. Returns
/// the rounds that completed (each within a minute).
size_t one_at_a_time(size_t workers, size_t rounds) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  cfg.set("logger.console", caf::atom("none"));
  internal::install_scheduler(cfg, scheduling::sharing);
  std::atomic<uint64_t> counted{0};
  size_t done = 0;
  {
    caf::actor_system sys{cfg};
    std::vector<caf::actor> ring(4);
    for (size_t i = 0; i < ring.size(); ++i)
      ring[i] = sys.spawn(relay, &counted, &ring, (i + 1) % ring.size());
    for (; done < rounds; ++done) {
      if (done % 2 == 1) // long enough for a worker to stop spinning and sleep
        std::this_thread::sleep_for(std::chrono::microseconds{200});
      caf::anon_send(ring[done % ring.size()], pass_atom::value, true);
      auto until = std::chrono::steady_clock::now() + std::chrono::minutes{1};
      while (counted.load() < done + 1 && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
      if (counted.load() < done + 1)
        break;
    }
    for (auto& a : ring)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  return done;
}

} // namespace

TEST_CASE("the shared queue runs every job pushed from outside or by a worker", "[scheduler]") {
  SECTION("one worker") {
    CHECK(drive(scheduling::sharing, 1, 4, per_sender) == 4 * per_sender);
  }
  SECTION("three workers, more than the cores") {
    CHECK(drive(scheduling::sharing, 3, 4, per_sender) == 4 * per_sender);
  }
  SECTION("one at a time, the workers asleep before each") {
    CHECK(one_at_a_time(1, wake_rounds) == wake_rounds);
    CHECK(one_at_a_time(2, wake_rounds) == wake_rounds);
  }
  SECTION("stealing, as before") {
    CHECK(drive(scheduling::stealing, 2, 4, per_sender / 4) == 4 * (per_sender / 4));
  }
}
