// SPDX-License-Identifier: Apache-2.0
// Staged accepts that join a stage while a write is on its way, and staged
// rows carried to the next write because their step was late: the sender
// is answered only once a write holds the message or its step, and every
// message is handled once (invariants 1 and 2).
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

/// Finishes every chit off the actor threads (`defer`), where it waits at
/// the handler gate, then counts it.
class deferring_clerk : public stateful_actor<chit_state> {
public:
  deferring_clerk() {
    on<chit>([](context& ctx, const chit&) -> caf::error {
      ctx.defer([](context&) -> caf::error {
        the_handler_gate.pass();
        ++handled;
        return {};
      });
      return {};
    });
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
    (*rt)->register_kind("deferring",
                         [](std::string_view) { return std::make_unique<deferring_clerk>(); });
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
                 "a staged message whose step is late waits for the next write: its sender is "
                 "answered once a write holds it, and it is handled once, across a restart too",
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

TEST_CASE_METHOD(staging_fixture,
                 "a deferred step's staged message is not carried to the next write: it is "
                 "written with its stage, its sender is answered while the deferred work "
                 "runs, and it is handled once",
                 "[invariant1][invariant2][staged]") {
  auto rt = start(10s, "deferring/a"); // a stage waits up to 10 s for a step it is owed
  the_handler_gate.set(false);         // the deferred work waits at the gate
  auto id = rt->tell("deferring/a", chit{"slow"});
  REQUIRE(id);
  // Answered once a write held the row, with the step still on its way: the
  // actor said no step was coming, so its row was not carried.
  CHECK(handled == 0);
  CHECK(rt->stats().rows_carried == 0);
  CHECK(held->puts == 1);
  the_handler_gate.set(true);
  REQUIRE(test::eventually([&] { return handled == 1 && rt->idle() && held->erases == 1; }));
  CHECK(mailbox_rows(*rt) == 0);
  CHECK(rt->stats().processed == 1);
  rt->stop();
}
