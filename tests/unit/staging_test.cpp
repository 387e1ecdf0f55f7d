// SPDX-License-Identifier: Apache-2.0
// Staged accepts that join a stage while a write is on its way, and staged
// rows carried to the next write because their step was late: the sender
// is answered only once a write holds the message or its step, and every
// message is handled once (invariants 1 and 2).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "forwarding_storage.hpp"
#include "internal/keys.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

struct chit {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chit& x) {
  return f(caf::meta::type_name("test.chit"), x.text);
}

struct chit_state {
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chit_state& x) {
  return f(caf::meta::type_name("test.chit_state"), x.count);
}

} // namespace

CAIRN_MESSAGE_TYPE(chit, "test.chit/v1");

namespace {

/// A gate a test closes and opens; `pass` waits while it is closed.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = true;

  void set(bool to) {
    {
      std::lock_guard<std::mutex> g{mtx};
      open = to;
    }
    cv.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [this] { return open; });
  }
};

gate the_handler_gate; ///< a chit "wait" waits here in its handler
std::atomic<int> handled{0};

/// Journals every chit, counting the handler's runs.
class clerk : public stateful_actor<chit_state> {
public:
  clerk() {
    on<chit>([](context& ctx, const chit& m) -> caf::error {
      ++handled;
      if (m.text == "wait")
        the_handler_gate.pass();
      ctx.emit(m);
      return {};
    });
    on_event<chit>([this](const chit&) { ++state.count; });
  }
};

/// RocksDB underneath; writes wait at `writes` while it is closed, and the
/// mailbox puts and erases of one actor's rows are counted.
class held_storage : public test::forwarding_storage {
public:
  held_storage(std::unique_ptr<storage> inner, std::string prefix)
    : forwarding_storage(std::move(inner)), prefix_(std::move(prefix)) {}
  gate writes;
  std::atomic<int> puts{0}, erases{0};

  caf::error write(const write_set& ops, bool sync) override {
    writes.pass();
    auto err = forwarding_storage::write(ops, sync);
    if (!err)
      for (const auto& op : ops.ops())
        if (op.cf == column::mailbox && op.key.rfind(prefix_, 0) == 0)
          ++(op.erase ? erases : puts);
    return err;
  }

private:
  std::string prefix_;
};

struct staging_fixture {
  staging_fixture() {
    handled = 0;
    the_handler_gate.set(true);
  }
  ~staging_fixture() { the_handler_gate.set(true); }
  test::temp_dir dir;
  held_storage* held = nullptr;

  std::unique_ptr<runtime> start(std::chrono::microseconds stage_wait, const std::string& actor) {
    runtime_options o;
    o.data_dir = dir.sub("data");
    o.threads = 2;
    o.stage_wait = stage_wait;
    o.wrap_storage = [this, actor](std::unique_ptr<storage> inner) {
      auto h = std::make_unique<held_storage>(std::move(inner), keys::actor_prefix(actor));
      held = h.get();
      return h;
    };
    auto rt = runtime::open(std::move(o));
    REQUIRE(rt);
    (*rt)->register_kind("clerk", [](std::string_view) { return std::make_unique<clerk>(); });
    REQUIRE_FALSE((*rt)->start());
    return std::move(*rt);
  }
};

std::vector<std::string> journal(runtime& rt, const std::string& actor) {
  std::vector<std::string> out;
  REQUIRE_FALSE(
    rt.read_journal(actor, 1, 1'000'000, [&](uint64_t, std::string_view, std::string_view p) {
      auto c = decode<chit>(p);
      REQUIRE(c);
      out.push_back(c->text);
    }));
  return out;
}

size_t mailbox_rows(runtime& rt) {
  size_t n = 0;
  ignore_error(rt.store().scan(column::mailbox, "", "", [&](auto, auto) {
    ++n;
    return true;
  }));
  return n;
}

} // namespace

TEST_CASE_METHOD(staging_fixture,
                 "a staged message whose step is not back when its stage is written waits for "
                 "the next write: its sender is answered once a write holds it, and it is "
                 "handled once, across a restart too",
                 "[invariant1][invariant2][staged]") {
  {
    auto rt = start(20ms, "clerk/late"); // the stage waits 20 ms for the step, then is written
    the_handler_gate.set(false);         // the step does not come back meanwhile
    std::atomic<bool> answered{false};
    int puts_when_answered = -1;
    std::thread sender([&] {
      auto id = rt->tell("clerk/late", chit{"wait"});
      puts_when_answered = held->puts.load();
      answered = bool(id);
    });
    REQUIRE(test::eventually([&] { return answered.load(); }));
    sender.join();
    // Carried past its stage's write, then put as a mailbox row by the
    // next: the answer came after that put, not before.
    CHECK(rt->stats().rows_carried >= 1);
    CHECK(puts_when_answered == 1);
    the_handler_gate.set(true);
    REQUIRE(test::eventually(
      [&] { return journal(*rt, "clerk/late").size() == 1 && rt->idle() && held->erases == 1; }));
    CHECK(journal(*rt, "clerk/late") == std::vector<std::string>{"wait"});
    CHECK(handled == 1);
    CHECK(mailbox_rows(*rt) == 0);
    REQUIRE_FALSE(rt->store().flush());
    rt->stop();
  }
  auto again = start(20ms, "clerk/late");
  REQUIRE(test::eventually([&] { return again->idle(); }));
  CHECK(again->stats().processed == 0);
  CHECK(journal(*again, "clerk/late") == std::vector<std::string>{"wait"});
}

TEST_CASE_METHOD(staging_fixture,
                 "a message accepted while a write is on its way joins the stage: it is handled "
                 "during that write and written with its step by the next, never put in the "
                 "mailbox",
                 "[invariant1][invariant2][staged]") {
  auto rt = start(10s, "clerk/join"); // every stage waits for its steps: the pairing is certain
  held->writes.set(false);            // the first write waits, on its way, until opened
  std::atomic<bool> first_answered{false}, second_answered{false};
  std::thread first, second;
  struct release { // the writes go on and the senders end, whatever the checks found
    held_storage* h;
    std::thread &a, &b;
    ~release() {
      h->writes.set(true);
      for (auto* t : {&a, &b})
        if (t->joinable())
          t->join();
    }
  } at_end{held, first, second};
  first = std::thread{[&] { first_answered = bool(rt->tell("clerk/join", chit{"first"})); }};
  REQUIRE(test::eventually([&] { return handled == 1; })); // staged, handled, now being written
  second = std::thread{[&] { second_answered = bool(rt->tell("clerk/join", chit{"second"})); }};
  // Handled while the write holding the first is still on its way: it
  // joined the stage instead of waiting in the queue for that write.
  CHECK(test::eventually([&] { return handled == 2; }));
  CHECK_FALSE(first_answered);
  CHECK_FALSE(second_answered);
  held->writes.set(true);
  first.join();
  second.join();
  CHECK(first_answered);
  CHECK(second_answered);
  REQUIRE(test::eventually([&] { return journal(*rt, "clerk/join").size() == 2 && rt->idle(); }));
  CHECK(journal(*rt, "clerk/join") == std::vector<std::string>{"first", "second"});
  CHECK(held->puts == 0);
  CHECK(held->erases == 0);
  CHECK(rt->stats().rows_unwritten == 2);
  CHECK(rt->stats().processed == 2);
  CHECK(mailbox_rows(*rt) == 0);
}

namespace {

/// RocksDB underneath, in `fsync` mode: `sync_log` waits at `syncs` while
/// it is closed, or fails while `fail_syncs` is set. Each write is
/// numbered; `covered` is the number of writes done when the last sync
/// that succeeded began (what it covers).
class sync_gated_storage : public test::forwarding_storage {
public:
  sync_gated_storage(std::unique_ptr<storage> inner, std::string prefix)
    : forwarding_storage(std::move(inner)), prefix_(std::move(prefix)) {}
  gate syncs;
  std::atomic<bool> fail_syncs{false};
  std::atomic<uint64_t> writes{0}, covered{0};
  std::atomic<uint64_t> synced_writes{0}; ///< commits (mailbox or journal rows) written with a sync
  std::atomic<uint64_t> last_of_actor{0}; ///< the number of the last write with a journal row of it

  caf::error write(const write_set& ops, bool sync) override {
    auto err = forwarding_storage::write(ops, sync);
    if (err)
      return err;
    // A commit's (not the span indexer's, which syncs its own ingests).
    if (sync && std::any_of(ops.ops().begin(), ops.ops().end(), [](const write_set::op& op) {
          return op.cf == column::journal || op.cf == column::mailbox;
        }))
      ++synced_writes;
    auto n = writes.load() + 1; // one writer thread: numbered in order
    for (const auto& op : ops.ops())
      if (op.cf == column::journal && op.key.rfind(prefix_, 0) == 0)
        last_of_actor = n;
    writes = n;
    return err;
  }

  caf::error sync_log() override {
    auto from = writes.load();
    syncs.pass();
    if (fail_syncs)
      return make_error(errc::storage_write_failed, "injected sync failure");
    auto err = forwarding_storage::sync_log();
    if (!err)
      covered = std::max(covered.load(), from);
    return err;
  }

private:
  std::string prefix_;
};

struct sync_fixture {
  sync_fixture() {
    handled = 0;
    the_handler_gate.set(true);
  }
  ~sync_fixture() {
    the_handler_gate.set(true);
    if (held)
      held->syncs.set(true);
  }
  test::temp_dir dir;
  sync_gated_storage* held = nullptr;

  std::unique_ptr<runtime> start(bool sync_behind, const std::string& actor) {
    runtime_options o;
    o.data_dir = dir.sub("data");
    o.threads = 2;
    o.mode = durability::fsync;
    o.sync_behind = sync_behind;
    o.wrap_storage = [this, actor](std::unique_ptr<storage> inner) {
      auto h = std::make_unique<sync_gated_storage>(std::move(inner), keys::actor_prefix(actor));
      held = h.get();
      return h;
    };
    auto rt = runtime::open(std::move(o));
    REQUIRE(rt);
    (*rt)->register_kind("clerk", [](std::string_view) { return std::make_unique<clerk>(); });
    REQUIRE_FALSE((*rt)->start());
    return std::move(*rt);
  }
};

} // namespace

TEST_CASE_METHOD(sync_fixture,
                 "with the log synced behind the writer, a message is written and handled while "
                 "the sync waits, and its sender hears accepted only after a sync that began "
                 "once its write was done",
                 "[invariant1][staged][sync]") {
  auto rt = start(true, "clerk/a");
  held->syncs.set(false); // every sync waits from now on
  struct reopen {         // before `rt` stops, even if a check below throws
    sync_gated_storage* s;
    ~reopen() { s->syncs.set(true); }
  } at_end{held};
  auto synced_before = held->synced_writes.load(); // opening the runtime syncs its own writes
  std::atomic<bool> answered{false};
  uint64_t covered_at_answer = 0;
  std::thread sender([&] {
    auto id = rt->tell("clerk/a", chit{"first"});
    covered_at_answer = held->covered.load();
    answered = bool(id);
  });
  // Written and handled (its journal row is in storage) with the sync held:
  // the writer did not wait for the disk, and the sender was not answered.
  REQUIRE(test::eventually([&] { return journal(*rt, "clerk/a").size() == 1; }));
  auto written_as = held->last_of_actor.load();
  CHECK(written_as > 0);
  CHECK_FALSE(answered.load());
  // Other work goes on meanwhile: a second actor's message is handled too.
  std::thread second([&] { CHECK(rt->tell("clerk/b", chit{"second"})); });
  REQUIRE(test::eventually([&] { return journal(*rt, "clerk/b").size() == 1; }));
  CHECK_FALSE(answered.load());
  held->syncs.set(true);
  REQUIRE(test::eventually([&] { return answered.load(); }));
  sender.join();
  second.join();
  CHECK(covered_at_answer >= written_as);
  CHECK(held->synced_writes == synced_before); // no commit synced itself
  CHECK(handled == 2);
  rt->stop();
}

TEST_CASE_METHOD(sync_fixture, "with each write synced by itself, no sync is left for behind it",
                 "[invariant1][sync]") {
  auto rt = start(false, "clerk/a");
  held->syncs.set(false); // a sync behind the writer would hang the answer
  auto synced_before = held->synced_writes.load();
  REQUIRE(rt->tell("clerk/a", chit{"first"}));
  CHECK(held->synced_writes > synced_before);
  CHECK(journal(*rt, "clerk/a") == std::vector<std::string>{"first"});
  held->syncs.set(true);
  rt->stop();
}

TEST_CASE_METHOD(sync_fixture,
                 "a sync that fails fails the answers it was to cover: the sender hears its "
                 "message was not accepted",
                 "[invariant1][sync]") {
  auto rt = start(true, "clerk/a");
  held->fail_syncs = true;
  auto id = rt->tell("clerk/a", chit{"lost?"});
  REQUIRE_FALSE(id);
  CHECK(code_of(id.error()) == errc::storage_write_failed);
  CHECK(render(id.error()).find("injected sync failure") != std::string::npos);
  held->fail_syncs = false;
  rt->stop();
}
