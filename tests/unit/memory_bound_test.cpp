// SPDX-License-Identifier: Apache-2.0
// A million messages waiting for one actor cost storage, not memory: the
// activation holds a bounded window of its mailbox, the router carries no
// envelope to a full window, and a head in retry backoff arms one tick, not
// one per delivery. Measured as the process's resident set, so it is only
// meaningful without sanitizers (whose shadow memory dwarfs the figure).
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CAIRN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CAIRN_SANITIZED 1
#endif

using namespace cairn;
using namespace std::chrono_literals;

namespace {

struct blob {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blob& x) {
  return f(caf::meta::type_name("test.blob"), x.text);
}

struct nothing {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, nothing&) {
  return f(caf::meta::type_name("test.nothing"));
}

} // namespace

CAIRN_MESSAGE_TYPE(blob, "test.blob/v1");

namespace {

/// Fails every message as a transient fault would: the head waits an hour
/// in backoff and everything behind it waits too.
class stuck : public stateful_actor<nothing> {
public:
  stuck() {
    on<blob>([](context&, const blob&) -> caf::error {
      return make_error(errc::handler_failed, "the downstream service is down");
    });
  }
};

[[maybe_unused]] size_t resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

} // namespace

TEST_CASE("a million messages waiting for one stuck actor stay in storage, not in memory",
          "[memory]") {
#ifdef CAIRN_SANITIZED
  WARN("skipped: resident memory is not meaningful under a sanitizer");
#else
  constexpr size_t messages = 1'000'000;
  // Measured: about 50 MiB with the bounds, about 280 MiB without them.
  constexpr size_t bound_mib = 160;
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  o.max_pending = 2 * messages;
  o.record_spans = false;
  auto r = runtime::open(o);
  REQUIRE(r);
  auto& rt = **r;
  kind_options ko;
  ko.retry.max_attempts = 5;
  ko.retry.initial_backoff = std::chrono::hours{1};
  ko.retry.max_backoff = std::chrono::hours{1};
  REQUIRE_FALSE(rt.register_kind(
    "stuck", [](std::string_view) { return std::make_unique<stuck>(); }, ko));
  REQUIRE_FALSE(rt.start());
  REQUIRE(rt.tell("stuck/a", blob{"head"}));
  REQUIRE(test::eventually([&] { return rt.stats().retried == 1; }));
  auto before = resident_bytes();

  // Accept asynchronously, a bounded number in flight.
  std::mutex mtx;
  std::condition_variable cv;
  size_t in_flight = 0, failed = 0;
  const std::string text(100, 'x');
  for (size_t i = 0; i < messages; ++i) {
    {
      std::unique_lock<std::mutex> lock{mtx};
      cv.wait(lock, [&] { return in_flight < 4096; });
      ++in_flight;
    }
    envelope env;
    env.from = "external";
    env.to = "stuck/a";
    env.type = type_tag<blob>::value;
    env.payload = encode(blob{text});
    rt.accept_async(std::move(env), [&](caf::expected<std::string> id) {
      std::lock_guard<std::mutex> lock{mtx};
      --in_flight;
      failed += id ? 0 : 1;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  REQUIRE(failed == 0);
  REQUIRE(rt.stats().pending == messages + 1);
  // Whatever the router sent the activation was allocated when it was sent.
  auto grown = resident_bytes() > before ? resident_bytes() - before : 0;
  INFO("resident set grew by " << grown / (1 << 20) << " MiB for " << messages
                               << " pending messages");
  CHECK(grown < bound_mib * (size_t{1} << 20));
  CHECK(rt.stats().processed == 0);
  rt.stop();
#endif
}
