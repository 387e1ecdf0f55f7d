// SPDX-License-Identifier: Apache-2.0
// Activations that die outside their handler, journals that cannot be
// replayed, and operator actions racing each other — against real RocksDB.
#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

struct memo {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, memo& x) {
  return f(caf::meta::type_name("test.memo"), x.text);
}

struct memo_state {
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, memo_state& x) {
  return f(caf::meta::type_name("test.memo_state"), x.count);
}

} // namespace

CAIRN_MESSAGE_TYPE(memo, "test.memo/v1");

namespace {

/// Where the test actor fails, outside its handler's own `try`.
enum class fault { none, factory, apply, snapshot };
std::atomic<fault> the_fault{fault::none};

/// Journals every memo; fails where `the_fault` says.
class fragile : public stateful_actor<memo_state> {
public:
  fragile() {
    if (the_fault.load() == fault::factory)
      throw std::runtime_error("factory refused");
    on<memo>([](context& ctx, const memo& m) -> caf::error {
      ctx.emit(m);
      return {};
    });
    on_event<memo>([this](const memo&) {
      if (the_fault.load() == fault::apply && replaying_)
        throw std::runtime_error("apply refused");
      ++state.count;
    });
  }

  std::optional<std::string> snapshot() const override {
    if (the_fault.load() == fault::snapshot)
      throw std::runtime_error("snapshot refused");
    return stateful_actor::snapshot();
  }

  // Replay happens right after construction; the handler's own emits after it.
  caf::error handle(context& ctx, const envelope& msg) override {
    replaying_ = false;
    return stateful_actor::handle(ctx, msg);
  }

private:
  bool replaying_ = true;
};

std::unique_ptr<runtime> start_fragile(const test::temp_dir& dir, kind_options ko) {
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  auto rt = runtime::open(o);
  REQUIRE(rt);
  REQUIRE_FALSE((*rt)->register_kind(
    "frag", [](std::string_view) { return std::make_unique<fragile>(); }, ko));
  REQUIRE_FALSE((*rt)->start());
  return std::move(*rt);
}

size_t journal_length(runtime& rt, const std::string& id) {
  size_t n = 0;
  ignore_error(rt.read_journal(id, 1, 1'000'000, [&](auto, auto, auto) { ++n; }));
  return n;
}

kind_options quick_retries(uint32_t attempts) {
  kind_options ko;
  ko.retry.max_attempts = attempts;
  ko.retry.initial_backoff = 5ms;
  ko.retry.max_backoff = 20ms;
  return ko;
}

struct fault_reset {
  ~fault_reset() { the_fault = fault::none; }
};

} // namespace

TEST_CASE("an activation that dies outside its handler is retried, dead-lettered with the reason, "
          "and leaves no stale route",
          "[activation][dlq]") {
  fault_reset reset;
  test::temp_dir dir;
  fault where = GENERATE(fault::factory, fault::apply, fault::snapshot);
  auto ko = quick_retries(3);
  // Snapshots only where they are the fault: otherwise replay starts after one.
  ko.snapshot_every = where == fault::snapshot ? 1 : 0;
  auto rt = start_fragile(dir, ko);
  // A journal to replay, so `apply` runs while the activation restores.
  REQUIRE(rt->tell("frag/a", memo{"first"}));
  REQUIRE(test::eventually([&] { return journal_length(*rt, "frag/a") == 1; }));
  // A restart, so the next activation restores from storage with the fault on.
  rt.reset();
  the_fault = where;
  rt = start_fragile(dir, ko);
  auto id = rt->tell("frag/a", memo{"doomed"});
  REQUIRE(id);
  REQUIRE(test::eventually([&] { return rt->stats().dead_lettered == 1; }));
  auto dl = rt->find_dead_letter(*id);
  REQUIRE(dl);
  CHECK(dl->attempts == 3);
  const char* reason = where == fault::factory ? "factory refused"
                       : where == fault::apply ? "apply refused"
                                               : "snapshot refused";
  CHECK(dl->error.find(reason) != std::string::npos);
  CHECK(journal_length(*rt, "frag/a") == 1); // nothing of the failed steps was committed
  // The dead activation's route is gone: the next message gets a new one.
  the_fault = fault::none;
  REQUIRE(rt->tell("frag/a", memo{"after"}));
  REQUIRE(test::eventually([&] { return journal_length(*rt, "frag/a") == 2; }, 30s));
  // The journal row is visible a moment before the actor counts its step.
  CHECK(test::eventually([&] { return rt->stats().processed >= 1; }));
}

TEST_CASE("an undecodable or unknown journal event stops the actor visibly instead of skipping it",
          "[activation][journal]") {
  test::temp_dir dir;
  auto rt = start_fragile(dir, quick_retries(3));
  REQUIRE(rt->tell("frag/b", memo{"one"}));
  REQUIRE(test::eventually([&] { return journal_length(*rt, "frag/b") == 1; }));
  rt.reset();
  // An unknown type, a payload that does not decode, a row that is not a
  // journal record at all.
  int what = GENERATE(0, 1, 2);
  {
    auto store = open_rocksdb(storage_options{dir.sub("data")});
    REQUIRE(store);
    internal::journal_record bad{what == 0 ? "test.renamed/v9" : "test.memo/v1", "\x01garbage",
                                 now_ms(), "", ""};
    write_set ws;
    ws.put(column::journal, keys::actor_seq("frag/b", 2),
           what == 2 ? std::string{"\x07not a record"} : encode(bad));
    REQUIRE_FALSE((*store)->write(ws, true));
  }
  rt = start_fragile(dir, quick_retries(3));
  auto id = rt->tell("frag/b", memo{"two"});
  REQUIRE(id);
  REQUIRE(test::eventually([&] { return rt->stats().stopped_actors == 1; }));
  auto summary = rt->describe("frag/b");
  REQUIRE(summary);
  CHECK(summary->stopped);
  CHECK(summary->stop_reason.find("journal event 2") != std::string::npos);
  CHECK(summary->stop_reason.find(what == 0 ? "unknown event type" : "cannot decode")
        != std::string::npos);
  // Its mail is kept (not processed, not dead-lettered) until it is repaired.
  CHECK(summary->mailbox_depth == 1);
  CHECK(rt->stats().dead_lettered == 0);
  // A row that is no record at all ends the journal's reading too.
  CHECK(journal_length(*rt, "frag/b") == (what == 2 ? 1 : 2));
  // Other actors of the kind are unaffected.
  REQUIRE(rt->tell("frag/c", memo{"fine"}));
  REQUIRE(test::eventually([&] { return journal_length(*rt, "frag/c") == 1; }));
}

TEST_CASE("concurrent redrives and discards of one dead letter: exactly one wins, once",
          "[dlq][race]") {
  fault_reset reset;
  test::temp_dir dir;
  auto rt = start_fragile(dir, quick_retries(1));
  constexpr int rounds = 12;
  constexpr int callers = 6;
  std::mt19937 gen{20240611}; // seeded: which callers redrive and which discard
  for (int round = 0; round < rounds; ++round) {
    auto actor = "frag/r" + std::to_string(round);
    // Dead-letter one message: the factory refuses while the fault is set.
    the_fault = fault::factory;
    auto id = rt->tell(actor, memo{"m"});
    REQUIRE(id);
    REQUIRE(test::eventually([&] { return bool(rt->find_dead_letter(*id)); }));
    the_fault = fault::none;
    std::vector<bool> redrives(callers);
    for (auto&& r : redrives)
      r = gen() % 2 == 0;
    redrives[0] = true; // at least one redrive per round
    std::atomic<int> ready{0};
    std::vector<caf::error> results(callers);
    std::vector<std::thread> threads;
    for (int i = 0; i < callers; ++i)
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < callers) {
        }
        results[i] = redrives[i] ? rt->redrive(*id) : rt->discard(*id);
      });
    for (auto& t : threads)
      t.join();
    int wins = 0, redrive_wins = 0;
    for (int i = 0; i < callers; ++i) {
      if (!results[i]) {
        ++wins;
        redrive_wins += redrives[i] ? 1 : 0;
      } else {
        CHECK(code_of(results[i]) == errc::not_found);
      }
    }
    CHECK(wins == 1);
    // A redriven message is processed exactly once; a discarded one never.
    if (redrive_wins == 1)
      REQUIRE(test::eventually([&] { return journal_length(*rt, actor) == 1; }));
    REQUIRE(test::eventually([&] { return rt->idle(); }));
    CHECK(journal_length(*rt, actor) == static_cast<size_t>(redrive_wins));
    CHECK_FALSE(rt->find_dead_letter(*id));
  }
}

TEST_CASE("kinds registered on a running node are safe, and an existing kind is not replaced",
          "[runtime][kinds]") {
  test::temp_dir dir;
  auto rt = start_fragile(dir, quick_retries(3));
  std::atomic<bool> done{false};
  std::thread registrar{[&] {
    for (int i = 0; i < 200; ++i)
      CHECK_FALSE(rt->register_kind("extra" + std::to_string(i),
                                    [](std::string_view) { return std::make_unique<fragile>(); }));
    done = true;
  }};
  size_t sent = 0;
  while (!done.load() || sent < 20) {
    REQUIRE(rt->tell("frag/k" + std::to_string(sent % 4), memo{"x"}));
    ++sent;
  }
  registrar.join();
  REQUIRE(rt->tell("extra7/a", memo{"new kind"}));
  REQUIRE(test::eventually([&] { return journal_length(*rt, "extra7/a") == 1; }));
  auto again =
    rt->register_kind("frag", [](std::string_view) { return std::make_unique<fragile>(); });
  CHECK(code_of(again) == errc::conflict);
  CHECK(code_of(rt->register_kind("bad/name",
                                  [](std::string_view) { return std::make_unique<fragile>(); }))
        == errc::invalid_argument);
  REQUIRE(test::eventually([&] { return rt->stats().processed == sent + 1; }));
}
