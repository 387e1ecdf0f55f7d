// SPDX-License-Identifier: Apache-2.0
// The execution layer against real RocksDB on disk: one case per invariant
// of DESIGN.md, and the failure cases around them.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sys/resource.h>
#include <thread>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"
#include "forwarding_storage.hpp"
#include "internal/keys.hpp"
#include "internal/scheduler.hpp"
#include "internal/span_codec.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

struct note {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, note& x) {
  return f(caf::meta::type_name("test.note"), x.text);
}

struct rec_state {
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rec_state& x) {
  return f(caf::meta::type_name("test.rec_state"), x.count);
}

} // namespace

CAIRN_MESSAGE_TYPE(note, "test.note/v1");

namespace {

/// Knobs the test actors read; reset by each test's fixture.
struct hooks {
  std::atomic<bool> poison_fails{true};
  std::atomic<int> report_delay_ms{0}; ///< "report" takes this long first
  std::mutex mtx;
  std::condition_variable cv;
  bool gate_open = true;

  void close_gate() {
    std::lock_guard<std::mutex> g{mtx};
    gate_open = false;
  }
  void open_gate() {
    {
      std::lock_guard<std::mutex> g{mtx};
      gate_open = true;
    }
    cv.notify_all();
  }
  void pass_gate() {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [this] { return gate_open; });
  }
};

hooks the_hooks;

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

/// The recorder: journals every note; some texts ask it to do more.
class recorder : public stateful_actor<rec_state> {
public:
  recorder() {
    on<note>([this](context& ctx, const note& m) -> caf::error {
      const auto& t = m.text;
      if (t == "poison" && the_hooks.poison_fails.load())
        return make_error(errc::handler_failed, "poison refused");
      if (t == "throw")
        throw std::runtime_error("boom");
      if (starts_with(t, "gate"))
        the_hooks.pass_gate();
      if (t == "report") {
        std::this_thread::sleep_for(std::chrono::milliseconds{the_hooks.report_delay_ms.load()});
        ctx.emit(note{"count=" + std::to_string(state.count)});
        return {};
      }
      ctx.emit(m);
      if (t == "emit-then-fail")
        return make_error(errc::handler_failed, "failed after emitting");
      if (starts_with(t, "fwd:")) { // fwd:<actor>:<text>
        auto rest = t.substr(4);
        auto colon = rest.find(':');
        ctx.send(rest.substr(0, colon), note{rest.substr(colon + 1)});
      } else if (starts_with(t, "timer:")) {
        ctx.schedule(std::chrono::milliseconds{std::stoi(t.substr(6))}, ctx.self(), note{"fired"});
      } else if (starts_with(t, "pub:")) { // pub:<topic>:<text>
        auto rest = t.substr(4);
        auto colon = rest.find(':');
        ctx.publish(rest.substr(0, colon), note{rest.substr(colon + 1)});
      } else if (t == "all") {
        ctx.send("rec/peer", note{"from-all"});
        ctx.schedule(50ms, ctx.self(), note{"fired"});
        ctx.publish("all-topic", note{"published"});
      }
      return {};
    });
    on_event<note>([this](const note&) { ++state.count; });
  }
};

/// Storage that forwards to RocksDB but fails the writes a predicate picks.
class faulty_storage : public test::forwarding_storage {
public:
  using forwarding_storage::forwarding_storage;
  std::function<bool(const write_set&)> fail_if;
  std::atomic<int> failures{0};

  caf::error write(const write_set& ops, bool sync) override {
    if (fail_if && fail_if(ops)) {
      ++failures;
      return make_error(errc::storage_write_failed, "injected write failure");
    }
    return forwarding_storage::write(ops, sync);
  }
};

runtime_options options_for(const test::temp_dir& dir) {
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  return o;
}

/// The recorder kind's options with actors passivating after `idle` with an empty mailbox.
kind_options idle_after(std::chrono::milliseconds idle) {
  kind_options ko;
  ko.idle_timeout = idle;
  return ko;
}

std::unique_ptr<runtime> start_runtime(runtime_options o, kind_options ko = {}) {
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  (*rt)->register_kind(
    "rec", [](std::string_view) { return std::make_unique<recorder>(); }, ko);
  REQUIRE_FALSE((*rt)->start());
  return std::move(*rt);
}

std::vector<std::string> journal(runtime& rt, const std::string& actor) {
  std::vector<std::string> out;
  auto err =
    rt.read_journal(actor, 1, 1'000'000, [&](uint64_t, std::string_view, std::string_view p) {
      auto n = decode<note>(p);
      REQUIRE(n);
      out.push_back(n->text);
    });
  REQUIRE_FALSE(err);
  return out;
}

size_t count_rows(runtime& rt, column cf, const std::string& prefix = {}) {
  size_t n = 0;
  ignore_error(rt.store().scan(cf, prefix, "", [&](auto, auto) {
    ++n;
    return true;
  }));
  return n;
}

struct fixture {
  fixture() {
    the_hooks.poison_fails = true;
    the_hooks.report_delay_ms = 0;
    the_hooks.open_gate();
  }
  ~fixture() { the_hooks.open_gate(); }
  test::temp_dir dir;
};

} // namespace

TEST_CASE_METHOD(fixture, "a message is accepted only once it is in the durable mailbox",
                 "[invariant1][mailbox]") {
  auto rt = start_runtime(options_for(dir));
  the_hooks.close_gate();
  REQUIRE(rt->tell("rec/a", note{"gate"}));
  auto id = rt->tell("rec/a", note{"waiting"});
  REQUIRE(id);
  // The first message holds the actor; the second must already be on disk.
  bool found = false;
  ignore_error(rt->store().scan(column::mailbox, keys::actor_prefix("rec/a"), "",
                                [&](auto, std::string_view v) {
                                  found = found || v.find(*id) != std::string_view::npos;
                                  return true;
                                }));
  CHECK(found);
  the_hooks.open_gate();
  REQUIRE(test::eventually([&] { return rt->stats().processed == 2; }));
  CHECK(journal(*rt, "rec/a") == std::vector<std::string>{"gate", "waiting"});
}

TEST_CASE_METHOD(fixture, "per-sender order holds across a restart",
                 "[invariant1][mailbox][order]") {
  {
    auto o = options_for(dir);
    o.max_active = 0; // nothing runs: every message stays in the mailbox
    auto rt = start_runtime(o);
    for (int i = 0; i < 200; ++i)
      REQUIRE(rt->tell("rec/fifo", note{std::to_string(i)}));
    CHECK(rt->stats().processed == 0);
  }
  auto rt = start_runtime(options_for(dir));
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  auto j = journal(*rt, "rec/fifo");
  REQUIRE(j.size() == 200);
  for (int i = 0; i < 200; ++i)
    CHECK(j[static_cast<size_t>(i)] == std::to_string(i));
}

TEST_CASE_METHOD(fixture,
                 "at the activation cap a backlog waits without the sweep reading it over and "
                 "over, then drains in order",
                 "[mailbox][sweep]") {
  constexpr int actors = 4, per_actor = 1000;
  // Mailbox rows read by whole-family scans (the sweep's; an actor reads
  // its own rows by prefix).
  std::atomic<bool> counting{false};
  std::atomic<int64_t> swept_rows{0};
  struct counting_storage : faulty_storage {
    using faulty_storage::faulty_storage;
    std::atomic<bool>* on = nullptr;
    std::atomic<int64_t>* rows = nullptr;
    caf::error scan(column cf, std::string_view prefix, std::string_view from,
                    const scan_fn& fn) override {
      if (cf != column::mailbox || !prefix.empty() || !on->load())
        return faulty_storage::scan(cf, prefix, from, fn);
      return faulty_storage::scan(cf, prefix, from, [&](std::string_view k, std::string_view v) {
        rows->fetch_add(1);
        return fn(k, v);
      });
    }
  };
  auto o = options_for(dir);
  o.max_active = 1;
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto c = std::make_unique<counting_storage>(std::move(inner));
    c->on = &counting;
    c->rows = &swept_rows;
    return c;
  };
  // An actor whose mailbox is empty frees its slot.
  auto rt = start_runtime(o, idle_after(10ms));
  counting = true;
  // One actor holds the only slot while the backlog is sent: every message
  // finds the cap reached and asks for a sweep.
  the_hooks.close_gate();
  REQUIRE(rt->tell("rec/holder", note{"gate"}));
  REQUIRE(test::eventually([&] { return rt->stats().active == 1; }));
  for (int i = 0; i < per_actor; ++i)
    for (int a = 0; a < actors; ++a)
      REQUIRE(rt->tell("rec/backlog" + std::to_string(a), note{std::to_string(i)}));
  CHECK(rt->stats().processed == 0);
  the_hooks.open_gate();
  REQUIRE(test::eventually(
    [&] { return rt->stats().processed == actors * per_actor + 1 && rt->idle(); }));
  for (int a = 0; a < actors; ++a) {
    auto j = journal(*rt, "rec/backlog" + std::to_string(a));
    REQUIRE(j.size() == per_actor);
    for (int i = 0; i < per_actor; ++i)
      REQUIRE(j[static_cast<size_t>(i)] == std::to_string(i));
  }
  // Reading the backlog once would be actors * per_actor rows; each sweep
  // reads at most a few rows of each actor it passes.
  CHECK(swept_rows.load() < actors * per_actor);
}

TEST_CASE_METHOD(fixture,
                 "a step commits events, sends, timers, publications and the message's removal "
                 "together or not at all",
                 "[invariant2][step]") {
  auto o = options_for(dir);
  // Accepts written before their steps run: the failed write is the step's
  // alone (a staged accept fails with its step: the staged tests below).
  o.stage_wait = 0us;
  faulty_storage* faulty = nullptr;
  std::atomic<bool> armed{true};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto f = std::make_unique<faulty_storage>(std::move(inner));
    faulty = f.get();
    // Fail the first write carrying a journal row of rec/atomic.
    f->fail_if = [&armed](const write_set& ws) {
      if (!armed.load())
        return false;
      for (const auto& op : ws.ops())
        if (op.cf == column::journal && op.key.rfind(keys::actor_prefix("rec/atomic"), 0) == 0) {
          armed = false;
          return true;
        }
      return false;
    };
    return f;
  };
  auto rt = runtime::open(o);
  REQUIRE(rt);
  (*rt)->register_kind("rec", [](std::string_view) { return std::make_unique<recorder>(); });
  REQUIRE_FALSE((*rt)->subscribe("all-topic", "rec/subscriber"));
  REQUIRE_FALSE((*rt)->start());
  REQUIRE((*rt)->tell("rec/atomic", note{"all"}));
  REQUIRE(
    test::eventually([&] { return journal(**rt, "rec/atomic").size() == 2 && (*rt)->idle(); }));
  CHECK(faulty->failures == 1);
  // The failed attempt left no trace; the re-run did everything exactly once.
  CHECK(journal(**rt, "rec/atomic") == std::vector<std::string>{"all", "fired"});
  CHECK(journal(**rt, "rec/peer") == std::vector<std::string>{"from-all"});
  CHECK(journal(**rt, "rec/subscriber") == std::vector<std::string>{"published"});
  CHECK(count_rows(**rt, column::mailbox) == 0);
  CHECK(count_rows(**rt, column::timer) == 0);
}

TEST_CASE_METHOD(fixture, "state is the latest snapshot plus the journal replayed",
                 "[invariant3][snapshot]") {
  kind_options ko;
  ko.snapshot_every = 4;
  {
    auto rt = start_runtime(options_for(dir), ko);
    for (int i = 0; i < 10; ++i)
      REQUIRE(rt->tell("rec/s", note{"n" + std::to_string(i)}));
    REQUIRE(test::eventually([&] { return rt->idle(); }));
    auto snap = rt->store().get(column::snapshot, "rec/s");
    REQUIRE(snap);
    REQUIRE(*snap);
    CHECK(keys::read_be64(**snap) == 8); // taken after events 4 and 8
  }
  auto rt = start_runtime(options_for(dir), ko);
  REQUIRE(rt->tell("rec/s", note{"report"}));
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  auto j = journal(*rt, "rec/s");
  REQUIRE(j.size() == 11);
  CHECK(j.back() == "count=10");
}

TEST_CASE_METHOD(fixture,
                 "a handled row is deleted with a single deletion, a retried (overwritten) one "
                 "with a plain one, and neither comes back after a flush and a restart",
                 "[invariant1][retry][single-delete]") {
  auto o = options_for(dir);
  o.stage_wait = 0us; // every row is put, then deleted (staged rows: below)
  std::mutex mtx;
  std::map<std::string, bool> erased_once; // mailbox key -> erased with erase_once
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto f = std::make_unique<faulty_storage>(std::move(inner));
    f->fail_if = [&](const write_set& ws) {
      std::lock_guard<std::mutex> guard{mtx};
      for (const auto& op : ws.ops())
        if (op.cf == column::mailbox && op.erase && op.range_end.empty())
          erased_once[op.key] = op.once;
      return false;
    };
    return f;
  };
  kind_options ko;
  ko.retry = retry_policy{1'000'000, 1ms, 2.0, 20ms, false}; // retried until it succeeds
  {
    auto rt = start_runtime(o, ko);
    // The first message activates the actor, which reads it back from
    // storage (a plain deletion); the later ones are handed over by the
    // writes that stored them.
    REQUIRE(rt->tell("rec/sd", note{"warm"}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/sd").size() == 1 && rt->idle(); }));
    REQUIRE(rt->tell("rec/sd", note{"plain"}));
    REQUIRE(rt->tell("rec/sd", note{"poison"}));
    // Its first writes go to a table file, a later one stays in memory: a
    // single deletion would meet (and drop with itself) the later one only.
    REQUIRE(test::eventually([&] { return rt->stats().retried >= 1; }));
    REQUIRE_FALSE(rt->store().flush());
    auto retried = rt->stats().retried;
    REQUIRE(test::eventually([&] { return rt->stats().retried >= retried + 2; }));
    the_hooks.poison_fails = false;
    REQUIRE(rt->tell("rec/sd", note{"report"}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/sd").size() == 4 && rt->idle(); }));
    CHECK(journal(*rt, "rec/sd") == std::vector<std::string>{"warm", "plain", "poison", "count=3"});
    {
      std::lock_guard<std::mutex> guard{mtx};
      std::vector<bool> single; // in sequence order
      for (const auto& [key, once] : erased_once)
        single.push_back(once);
      // "warm": read back, "plain" and "report": written once, "poison":
      // rewritten by each failed attempt.
      CHECK(single == std::vector<bool>{false, true, false, true});
    }
    REQUIRE_FALSE(rt->store().flush());
    rt->stop();
  }
  // Nothing comes back: a single deletion of the rewritten row would have
  // hidden its newest write only, and the flush would have let the first
  // one through.
  auto again = start_runtime(o, ko);
  CHECK(count_rows(*again, column::mailbox) == 0);
  CHECK(again->stats().pending == 0);
  REQUIRE(again->tell("rec/sd", note{"report"}));
  REQUIRE(test::eventually([&] { return journal(*again, "rec/sd").size() == 5; }));
  CHECK(journal(*again, "rec/sd").back() == "count=4");
}

TEST_CASE_METHOD(fixture,
                 "a row read back from storage (on activation, or after a failed step commit) "
                 "takes a plain deletion though it was never retried, and is handled once",
                 "[invariant1][single-delete]") {
  // A failed write may have reached the log and put the row a second time,
  // so a row the activation re-reads is never trusted to exist once: the
  // choice follows where the row came from, not whether it has attempts.
  auto o = options_for(dir);
  o.stage_wait = 0us; // every row is put, then deleted (staged rows: below)
  std::mutex mtx;
  std::map<std::string, std::vector<bool>> erasures; // mailbox key -> once flag of each erase
  bool failed_once = false;
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto f = std::make_unique<faulty_storage>(std::move(inner));
    f->fail_if = [&](const write_set& ws) {
      std::lock_guard<std::mutex> guard{mtx};
      bool step = false;
      for (const auto& op : ws.ops())
        if (op.cf == column::mailbox && op.erase && op.range_end.empty()) {
          erasures[op.key].push_back(op.once);
          step = true;
        }
      if (step && erasures.size() == 2 && !failed_once) {
        failed_once = true; // the second message's commit fails, nothing of it written
        return true;
      }
      return false;
    };
    return f;
  };
  {
    auto rt = start_runtime(o);
    REQUIRE(rt->tell("rec/rb", note{"first"}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/rb").size() == 1 && rt->idle(); }));
    REQUIRE(rt->tell("rec/rb", note{"second"}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/rb").size() == 2 && rt->idle(); }));
    REQUIRE(rt->tell("rec/rb", note{"third"}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/rb").size() == 3 && rt->idle(); }));
    CHECK(journal(*rt, "rec/rb") == std::vector<std::string>{"first", "second", "third"});
    {
      std::lock_guard<std::mutex> guard{mtx};
      REQUIRE(failed_once);
      std::vector<std::vector<bool>> by_seq;
      for (const auto& [key, flags] : erasures) // keys sort by sequence number
        by_seq.push_back(flags);
      // "first" activated the actor and was read back: plain. "second" was
      // handed over by its write: its failed commit asked for a single
      // deletion, the re-run, from the re-read row, for a plain one.
      // "third" was handed over by a good write again.
      CHECK(by_seq == std::vector<std::vector<bool>>{{false}, {true, false}, {true}});
    }
    REQUIRE_FALSE(rt->store().flush());
    rt->stop();
  }
  auto again = start_runtime(o);
  CHECK(count_rows(*again, column::mailbox) == 0);
  CHECK(journal(*again, "rec/rb") == std::vector<std::string>{"first", "second", "third"});
}

/// Storage that records the mailbox and journal operations on one actor's
/// rows (key, put or erase, erased once) and fails the writes `fail_if` picks.
struct recording_storage : faulty_storage {
  using faulty_storage::faulty_storage;
  struct seen {
    column cf;
    std::string key;
    bool erase;
    bool once;
  };
  std::string prefix;
  std::mutex mtx;
  std::vector<seen> ops;
  caf::error write(const write_set& ws, bool sync) override {
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (const auto& op : ws.ops())
        if ((op.cf == column::mailbox || op.cf == column::journal) && op.key.rfind(prefix, 0) == 0)
          ops.push_back(seen{op.cf, op.key, op.erase, op.once});
    }
    return faulty_storage::write(ws, sync);
  }
  size_t count(column cf, bool erase) {
    std::lock_guard<std::mutex> guard{mtx};
    return static_cast<size_t>(std::count_if(
      ops.begin(), ops.end(), [&](const seen& s) { return s.cf == cf && s.erase == erase; }));
  }
};

TEST_CASE_METHOD(fixture,
                 "a message whose step comes in the write that accepts it is neither put in the "
                 "mailbox nor deleted from it, and is handled once across a restart",
                 "[invariant1][invariant2][staged]") {
  auto o = options_for(dir);
  o.stage_wait = 10s; // each stage waits for its step: the pairing is certain
  recording_storage* rec = nullptr;
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto r = std::make_unique<recording_storage>(std::move(inner));
    r->prefix = keys::actor_prefix("rec/st");
    rec = r.get();
    return r;
  };
  {
    auto rt = start_runtime(o);
    std::vector<std::string> want;
    for (int i = 0; i < 20; ++i) {
      want.push_back("m" + std::to_string(i));
      REQUIRE(rt->tell("rec/st", note{want.back()}));
    }
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/st").size() == 20 && rt->idle(); }));
    CHECK(journal(*rt, "rec/st") == want);
    CHECK(rt->stats().rows_unwritten == 20);
    CHECK(rt->stats().processed == 20);
    CHECK(rt->stats().pending == 0);
    CHECK(rec->count(column::mailbox, false) == 0); // no put
    CHECK(rec->count(column::mailbox, true) == 0);  // no deletion
    CHECK(rec->count(column::journal, false) == 20);
    CHECK(count_rows(*rt, column::mailbox) == 0);
    REQUIRE_FALSE(rt->store().flush());
    rt->stop();
  }
  auto again = start_runtime(o);
  REQUIRE(test::eventually([&] { return again->idle(); }));
  CHECK(again->stats().processed == 0);
  CHECK(journal(*again, "rec/st").size() == 20);
}

TEST_CASE_METHOD(fixture,
                 "a failed write loses a staged message and its step together: the sender hears "
                 "the failure, nothing of the step is kept, and nothing runs it later",
                 "[invariant1][invariant2][staged]") {
  auto o = options_for(dir);
  o.stage_wait = 10s;
  recording_storage* rec = nullptr;
  std::atomic<bool> armed{true};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto r = std::make_unique<recording_storage>(std::move(inner));
    r->prefix = keys::actor_prefix("rec/lost");
    // Fails the first write carrying a journal row of rec/lost: the step,
    // and with it the accept of the message it handled.
    r->fail_if = [&armed](const write_set& ws) {
      for (const auto& op : ws.ops())
        if (op.cf == column::journal && op.key.rfind(keys::actor_prefix("rec/lost"), 0) == 0)
          return armed.exchange(false);
      return false;
    };
    rec = r.get();
    return r;
  };
  {
    auto rt = start_runtime(o);
    auto doomed = rt->tell("rec/lost", note{"doomed"});
    REQUIRE_FALSE(doomed);
    CHECK(code_of(doomed.error()) == errc::storage_write_failed);
    CHECK(rec->failures == 1);
    REQUIRE(test::eventually([&] { return bool(rt->tell("rec/lost", note{"after"})); }));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/lost").size() == 1 && rt->idle(); }));
    CHECK(journal(*rt, "rec/lost") == std::vector<std::string>{"after"});
    CHECK(count_rows(*rt, column::mailbox) == 0);
    CHECK(rt->stats().pending == 0);
    REQUIRE_FALSE(rt->store().flush());
    rt->stop();
  }
  auto again = start_runtime(o);
  REQUIRE(test::eventually([&] { return again->idle(); }));
  CHECK(again->stats().processed == 0);
  CHECK(journal(*again, "rec/lost") == std::vector<std::string>{"after"});
}

TEST_CASE_METHOD(fixture,
                 "a staged message whose step comes after its write is deleted once, and the "
                 "step of one whose write failed is refused and leaves nothing",
                 "[invariant1][invariant2][staged][single-delete]") {
  auto o = options_for(dir);
  o.stage_wait = 20ms; // the writer stops waiting for a step held at the gate
  recording_storage* rec = nullptr;
  std::atomic<bool> fail_put{false};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto r = std::make_unique<recording_storage>(std::move(inner));
    r->prefix = keys::actor_prefix("rec/late");
    // When armed, fails the write that puts a row of rec/late2 (its accept).
    r->fail_if = [&fail_put](const write_set& ws) {
      for (const auto& op : ws.ops())
        if (op.cf == column::mailbox && !op.erase
            && op.key.rfind(keys::actor_prefix("rec/late2"), 0) == 0)
          return fail_put.exchange(false);
      return false;
    };
    rec = r.get();
    return r;
  };
  auto rt = start_runtime(o);
  // Written alone (its step waits at the gate), then deleted once.
  the_hooks.close_gate();
  REQUIRE(rt->tell("rec/late", note{"gate-1"}));
  the_hooks.open_gate();
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/late").size() == 1 && rt->idle(); }));
  {
    std::lock_guard<std::mutex> guard{rec->mtx};
    std::vector<std::pair<bool, bool>> mail; // (erase, once) of rec/late's mailbox ops
    for (const auto& s : rec->ops)
      if (s.cf == column::mailbox && s.key.rfind(keys::actor_prefix("rec/late"), 0) == 0)
        mail.emplace_back(s.erase, s.once);
    CHECK(mail == std::vector<std::pair<bool, bool>>{{false, false}, {true, true}});
  }
  // Its write fails while its step waits at the gate: the step, which ran
  // on a message its sender was told was refused, is refused in turn.
  the_hooks.close_gate();
  fail_put = true;
  auto refused = rt->tell("rec/late2", note{"gate-2"});
  the_hooks.open_gate();
  REQUIRE_FALSE(refused);
  CHECK(rec->failures == 1);
  REQUIRE(test::eventually([&] { return bool(rt->tell("rec/late2", note{"after"})); }));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/late2").size() == 1 && rt->idle(); }));
  CHECK(journal(*rt, "rec/late2") == std::vector<std::string>{"after"});
  CHECK(count_rows(*rt, column::mailbox) == 0);
  CHECK(rt->stats().pending == 0);
}

TEST_CASE_METHOD(fixture,
                 "steps that ran behind a commit that then fails are refused with it, and all "
                 "run again, in order, on the state rebuilt from storage",
                 "[invariant2][invariant3][staged][pipeline]") {
  auto o = options_for(dir);
  o.stage_wait = 20ms; // the writer stops waiting for a step held at the gate
  recording_storage* rec = nullptr;
  std::atomic<bool> armed{false};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto r = std::make_unique<recording_storage>(std::move(inner));
    r->prefix = keys::actor_prefix("rec/pipe");
    // When armed, fails the first write with a journal row of rec/pipe.
    r->fail_if = [&armed](const write_set& ws) {
      for (const auto& op : ws.ops())
        if (op.cf == column::journal && op.key.rfind(keys::actor_prefix("rec/pipe"), 0) == 0)
          return armed.exchange(false);
      return false;
    };
    rec = r.get();
    return r;
  };
  auto rt = start_runtime(o);
  // All accepted, each written alone while the gate holds the first step.
  the_hooks.close_gate();
  REQUIRE(rt->tell("rec/pipe", note{"gate"}));
  REQUIRE(rt->tell("rec/pipe", note{"report"}));
  REQUIRE(rt->tell("rec/pipe", note{"report"}));
  armed = true;
  // The gate's step commits (and fails); the two "report"s, staged, run
  // behind it (up to three requests in flight) on a state that counts the
  // gate's event, which never reaches storage. Their delay puts their
  // requests in later writes than the gate's, where the writer must refuse
  // them; in the same write they fail with it. Either way the outcome below
  // is the same, and only a refusal that is missing changes it.
  the_hooks.report_delay_ms = 50;
  the_hooks.open_gate();
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/pipe").size() == 3 && rt->idle(); }));
  CHECK(rec->failures == 1);
  CHECK(journal(*rt, "rec/pipe") == std::vector<std::string>{"gate", "count=1", "count=2"});
  CHECK(count_rows(*rt, column::mailbox) == 0);
  CHECK(rt->stats().pending == 0);
  CHECK(rt->stats().processed == 3);
}

TEST_CASE_METHOD(fixture,
                 "staged messages from several senders through small windows, passivation and "
                 "failing writes: each handled once, each sender's in its order",
                 "[invariant1][invariant2][staged][pipeline]") {
  auto o = options_for(dir);
  o.activation_queue = 4; // windows overflow: rows are read back from storage
  std::mutex mtx;
  std::mt19937 rng{20261204}; // seeded: the same writes fail in every run
  std::atomic<int> failures{0};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto f = std::make_unique<faulty_storage>(std::move(inner));
    // One write in 40 with a mailbox or journal row fails: accepts,
    // stages, steps and steps behind them are refused in turn.
    f->fail_if = [&](const write_set& ws) {
      bool rows = std::any_of(ws.ops().begin(), ws.ops().end(), [](const auto& op) {
        return op.cf == column::mailbox || op.cf == column::journal;
      });
      std::lock_guard<std::mutex> guard{mtx};
      if (!rows || rng() % 40 != 0)
        return false;
      ++failures;
      return true;
    };
    return f;
  };
  // Each actor passivates whenever its mailbox empties.
  auto rt = start_runtime(o, idle_after(0ms));
  constexpr int senders = 4, per_sender = 150, actors = 3;
  std::vector<std::thread> threads;
  for (int p = 0; p < senders; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_sender; ++i) {
        auto to = "rec/s" + std::to_string((i + p) % actors);
        auto text = "p" + std::to_string(p) + "-" + std::to_string(i);
        // Refused (its write failed): sent again before the next one.
        while (!rt->tell(to, note{text}))
          std::this_thread::yield();
      }
    });
  for (auto& t : threads)
    t.join();
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  CHECK(failures.load() > 0);
  size_t total = 0;
  for (int a = 0; a < actors; ++a) {
    auto j = journal(*rt, "rec/s" + std::to_string(a));
    total += j.size();
    std::map<int, int> last; // sender -> the last number it saw here
    std::set<std::string> seen;
    for (const auto& text : j) {
      INFO("actor rec/s" << a << ": " << text);
      CHECK(seen.insert(text).second); // once
      auto dash = text.find('-');
      int p = std::stoi(text.substr(1, dash - 1));
      int i = std::stoi(text.substr(dash + 1));
      CHECK((i + p) % actors == a);
      auto it = last.find(p);
      CHECK((it == last.end() || it->second < i)); // in the sender's order
      last[p] = i;
    }
  }
  CHECK(total == static_cast<size_t>(senders * per_sender)); // none lost
  CHECK(count_rows(*rt, column::mailbox) == 0);
  CHECK(rt->stats().pending == 0);
}

TEST_CASE_METHOD(fixture,
                 "staged batches a sender does not wait for, some with keys, reach each actor in "
                 "the order they were sent, through small windows and passivation",
                 "[staged][pipeline][order]") {
  auto o = options_for(dir);
  o.activation_queue = 4;
  auto rt = start_runtime(o, idle_after(0ms));
  constexpr int senders = 3, batches = 120, actors = 2;
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int p = 0; p < senders; ++p)
    threads.emplace_back([&, p] {
      std::mt19937 rng{static_cast<uint32_t>(7 + p)}; // seeded
      std::mutex mtx;
      std::condition_variable cv;
      int open = 0, n = 0;
      for (int b = 0; b < batches; ++b) {
        std::vector<envelope> envs;
        auto size = 1 + rng() % 6;
        bool keyed = rng() % 5 == 0; // written by its own write, not staged
        for (uint32_t k = 0; k < size; ++k, ++n) {
          envelope env;
          env.from = "external";
          env.to = "rec/o" + std::to_string(rng() % actors);
          env.type = type_tag<note>::value;
          env.payload = encode(note{"p" + std::to_string(p) + "-" + std::to_string(n)});
          if (keyed)
            env.idempotency_key = "k" + std::to_string(p) + "-" + std::to_string(n);
          envs.push_back(std::move(env));
        }
        {
          std::unique_lock<std::mutex> lock{mtx};
          cv.wait(lock, [&] { return open < 3; }); // three batches in flight
          ++open;
        }
        rt->accept_batch(std::move(envs), [&](std::vector<runtime::batch_result> res) {
          for (auto& r : res)
            if (!r.id)
              ++refused;
          // Notified under the lock: the sender may return (and its
          // condition variable go) as soon as it sees the count drop.
          std::lock_guard<std::mutex> guard{mtx};
          --open;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock{mtx};
      cv.wait(lock, [&] { return open == 0; });
    });
  for (auto& t : threads)
    t.join();
  REQUIRE(refused.load() == 0);
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  for (int a = 0; a < actors; ++a) {
    std::map<int, int> last; // sender -> the last number it saw here
    for (const auto& text : journal(*rt, "rec/o" + std::to_string(a))) {
      INFO("actor rec/o" << a << ": " << text);
      auto dash = text.find('-');
      int p = std::stoi(text.substr(1, dash - 1));
      int i = std::stoi(text.substr(dash + 1));
      auto it = last.find(p);
      CHECK((it == last.end() || it->second < i)); // in the order sent, each once
      last[p] = i;
    }
  }
  CHECK(rt->stats().processed == rt->stats().accepted);
  CHECK(count_rows(*rt, column::mailbox) == 0);
}

TEST_CASE_METHOD(fixture,
                 "a poison message is retried with growing spacing, dead-lettered, and redriven "
                 "while other messages keep flowing",
                 "[invariant4][poison][dlq]") {
  kind_options ko;
  ko.retry = retry_policy{4, 20ms, 2.0, 5s, false};
  auto rt = start_runtime(options_for(dir), ko);
  auto poison = rt->tell("rec/p", note{"poison"});
  REQUIRE(poison);
  for (int i = 0; i < 50; ++i)
    REQUIRE(rt->tell("rec/q" + std::to_string(i % 5), note{"ok"}));
  REQUIRE(test::eventually([&] { return rt->stats().dead_lettered == 1; }));
  REQUIRE(test::eventually([&] { return rt->stats().processed == 50; }));
  auto dls = rt->dead_letters(10);
  REQUIRE(dls);
  REQUIRE(dls->size() == 1);
  const auto& dl = dls->front();
  CHECK(dl.env.id == *poison);
  CHECK(dl.attempts == 4);
  CHECK(dl.error.find("poison refused") != std::string::npos);
  trace_context tc;
  CHECK(parse_traceparent(dl.env.traceparent, tc));
  REQUIRE(dl.attempt_ms.size() == 4);
  // Each gap is at least the policy's backoff: 20, 40, 80 ms.
  CHECK(dl.attempt_ms[1] - dl.attempt_ms[0] >= 20);
  CHECK(dl.attempt_ms[2] - dl.attempt_ms[1] >= 40);
  CHECK(dl.attempt_ms[3] - dl.attempt_ms[2] >= 80);
  CHECK(rt->stats().retried == 3);
  CHECK(journal(*rt, "rec/p").empty());

  the_hooks.poison_fails = false;
  REQUIRE_FALSE(rt->redrive(*poison));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/p").size() == 1; }));
  auto after = rt->dead_letters(10);
  REQUIRE(after);
  CHECK(after->empty());
  auto again = rt->redrive(*poison);
  CHECK(code_of(again) == errc::not_found);
}

TEST_CASE_METHOD(fixture, "a handler that throws fails its message, not the node",
                 "[invariant4][dlq]") {
  kind_options ko;
  ko.retry = retry_policy{2, 1ms, 2.0, 5s, false};
  auto rt = start_runtime(options_for(dir), ko);
  auto id = rt->tell("rec/t", note{"throw"});
  REQUIRE(id);
  REQUIRE(rt->tell("rec/t", note{"after"}));
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  auto dl = rt->find_dead_letter(*id);
  REQUIRE(dl);
  CHECK(dl->error.find("handler threw: boom") != std::string::npos);
  CHECK(journal(*rt, "rec/t") == std::vector<std::string>{"after"});
  REQUIRE_FALSE(rt->discard(*id));
  CHECK(code_of(rt->discard(*id)) == errc::not_found);
}

TEST_CASE_METHOD(fixture, "work accepted before a restart resumes in its trace, linked",
                 "[invariant5][trace][restart]") {
  // The first attempt fails; its retry waits long enough for the node to
  // stop first, and runs after the restart.
  kind_options ko;
  ko.retry.initial_backoff = std::chrono::milliseconds{1500};
  ko.retry.full_jitter = false;
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  std::string id;
  {
    auto rt = start_runtime(options_for(dir), ko);
    envelope env;
    env.to = "rec/r1";
    env.type = type_tag<note>::value;
    env.payload = encode(note{"poison"});
    env.traceparent = "00-" + trace + "-b7ad6b7169203331-01";
    auto accepted = rt->accept(env);
    REQUIRE(accepted);
    id = *accepted;
    REQUIRE(test::eventually([&] { return rt->stats().retried == 1; }));
    rt->stop();
  }
  the_hooks.poison_fails = false;
  auto rt = start_runtime(options_for(dir), ko);
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/r1").size() == 1; }));
  REQUIRE(test::eventually([&] {
    auto steps = rt->trace_steps(trace);
    return steps && steps->size() == 2;
  }));
  auto steps = rt->trace_steps(trace);
  REQUIRE(steps);
  const span_record* before = nullptr;
  const span_record* after = nullptr;
  for (const auto& s : *steps)
    (s.attempt == 0 ? before : after) = &s;
  REQUIRE(before != nullptr);
  REQUIRE(after != nullptr);
  auto resumed = [](const span_record& s) {
    for (const auto& a : s.attributes)
      if (a.key == "cairn.resumed")
        return std::get<bool>(a.value);
    return false;
  };
  // The attempt before the stop is not a resumption; the one after is, and
  // links both the attempt it retries and the accept it resumes from.
  CHECK_FALSE(resumed(*before));
  CHECK(before->links.empty());
  CHECK(resumed(*after));
  std::map<std::string, std::string> links;
  for (const auto& l : after->links) {
    CHECK(l.trace_id == trace);
    links[l.type] = l.span_id;
  }
  CHECK(links.size() == 2);
  CHECK(links["retry_of"] == before->span_id);
  CHECK(links["resumed_from"] == "b7ad6b7169203331");
  CHECK(after->parent_span_id == "b7ad6b7169203331");
}

TEST_CASE_METHOD(fixture,
                 "an accepted envelope keeps a valid traceparent and gets a new trace for a "
                 "malformed or missing one",
                 "[invariant5][trace]") {
  auto rt = start_runtime(options_for(dir));
  const std::string given = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::vector<envelope> envs;
  for (const auto& [to, tp] : std::vector<std::pair<std::string, std::string>>{
         {"rec/tp-valid", "00-" + given + "-00f067aa0ba902b7-01"},
         {"rec/tp-upper", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
         {"rec/tp-zero", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
         {"rec/tp-short", "00-" + given + "-00f067aa0ba902b7-1"},
         {"rec/tp-none", ""}}) {
    envelope env;
    env.to = to;
    env.type = type_tag<note>::value;
    env.payload = encode(note{"x"});
    env.traceparent = tp;
    envs.push_back(std::move(env));
  }
  std::promise<std::vector<runtime::batch_result>> taken;
  rt->accept_batch(std::move(envs), [&](auto r) { taken.set_value(std::move(r)); });
  for (const auto& r : taken.get_future().get())
    REQUIRE(r.id);
  REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed == 5; }));
  std::map<std::string, std::string> trace_of; // actor -> trace id of its step's span
  ignore_error(rt->store().scan(column::trace, "", "", [&](std::string_view k, std::string_view v) {
    internal::for_each_span(k, v, [&](std::string_view key, std::string_view span) {
      auto s = internal::decode_span(key, span);
      REQUIRE(s);
      trace_of[s->actor] = s->trace_id;
    });
    return true;
  }));
  REQUIRE(trace_of.size() == 5);
  CHECK(trace_of["rec/tp-valid"] == given);
  std::set<std::string> fresh;
  for (const auto* actor : {"rec/tp-upper", "rec/tp-zero", "rec/tp-short", "rec/tp-none"}) {
    const auto& t = trace_of[actor];
    INFO(actor << ": " << t);
    trace_context tc;
    CHECK(parse_traceparent("00-" + t + "-00f067aa0ba902b7-01", tc));
    CHECK(t != given);
    fresh.insert(t);
  }
  CHECK(fresh.size() == 4); // a new trace each
}

TEST_CASE_METHOD(fixture, "every envelope carries trace context and every step records a span",
                 "[invariant5][trace]") {
  auto rt = start_runtime(options_for(dir));
  envelope env;
  env.to = "rec/t1";
  env.type = type_tag<note>::value;
  env.payload = encode(note{"fwd:rec/t2:hello"});
  env.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  REQUIRE(rt->accept(env));
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  CHECK(journal(*rt, "rec/t2") == std::vector<std::string>{"hello"});
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  // Both steps' spans are in `trace` rows (one per commit, in commit order),
  // found by trace id at once (the rows after the index's cursor are read
  // whole) and, once the indexer has run, through the index.
  std::vector<span_record> spans;
  std::vector<std::string> rows;
  ignore_error(rt->store().scan(column::trace, "", "", [&](std::string_view k, std::string_view v) {
    rows.emplace_back(k);
    internal::for_each_span(k, v, [&](std::string_view key, std::string_view span) {
      auto s = internal::decode_span(key, span);
      REQUIRE(s);
      spans.push_back(*s);
    });
    return true;
  }));
  CHECK(std::is_sorted(rows.begin(), rows.end()));
  auto steps = rt->trace_steps(trace);
  REQUIRE(steps);
  CHECK(steps->size() == 2);
  REQUIRE(test::eventually([&] {
    return count_rows(*rt, column::trace_index, "i") >= 1
           && count_rows(*rt, column::trace_index, std::string{keys::span_index_cursor}) == 1;
  }));
  auto indexed = rt->trace_steps(trace);
  REQUIRE(indexed);
  CHECK(indexed->size() == 2);
  REQUIRE(spans.size() == 2);
  std::map<std::string, span_record> by_actor;
  for (auto& s : spans)
    by_actor[s.actor] = s;
  REQUIRE(by_actor.count("rec/t1") == 1);
  REQUIRE(by_actor.count("rec/t2") == 1);
  CHECK(by_actor["rec/t1"].parent_span_id == "00f067aa0ba902b7");
  CHECK(by_actor["rec/t1"].status == span_status::ok);
  CHECK(by_actor["rec/t1"].kind == span_kind::consumer);
  CHECK(by_actor["rec/t1"].name == "process test.note/v1");
  CHECK(by_actor["rec/t1"].start_us <= by_actor["rec/t1"].end_us);
  // t1 sent one message, to t2: the span names it.
  REQUIRE(by_actor["rec/t1"].sent.size() == 1);
  CHECK(by_actor["rec/t1"].sent[0].to == "rec/t2");
  CHECK(by_actor["rec/t1"].sent[0].id.size() == 32);
  // The hop's span descends from the envelope t1 sent, not from the caller.
  CHECK(by_actor["rec/t2"].parent_span_id != "00f067aa0ba902b7");
  CHECK(by_actor["rec/t2"].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_CASE_METHOD(fixture,
                 "a flood against a small cap gets busy errors, memory stays bounded and nothing "
                 "is lost",
                 "[invariant6][backpressure]") {
  auto o = options_for(dir);
  o.max_pending = 64;
  auto rt = start_runtime(o);
  the_hooks.close_gate(); // handlers hold: nothing drains while we flood
  std::atomic<int> ok{0}, busy{0}, other{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < 500; ++i) {
        auto r = rt->tell("rec/b" + std::to_string((p * 500 + i) % 8), note{"gate"});
        if (r)
          ++ok;
        else if (code_of(r.error()) == errc::busy
                 && render(r.error()).find("retry after") != std::string::npos)
          ++busy;
        else
          ++other;
      }
    });
  for (auto& t : producers)
    t.join();
  CHECK(other == 0);
  CHECK(ok == 64); // exactly the cap: nothing beyond it was taken in
  CHECK(busy == 2000 - 64);
  CHECK(rt->stats().pending == 64);
  the_hooks.open_gate();
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  size_t journaled = 0;
  for (int a = 0; a < 8; ++a)
    journaled += journal(*rt, "rec/b" + std::to_string(a)).size();
  CHECK(journaled == 64);
}

TEST_CASE_METHOD(fixture, "the same idempotency key accepted twice is stored once", "[dedupe]") {
  auto rt = start_runtime(options_for(dir));
  auto first = rt->tell("rec/d", note{"charge"}, "key-1");
  auto second = rt->tell("rec/d", note{"charge"}, "key-1");
  auto other = rt->tell("rec/d", note{"charge"}, "key-2");
  REQUIRE(first);
  REQUIRE(second);
  REQUIRE(other);
  CHECK(*first == *second);
  CHECK(*first != *other);
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  CHECK(journal(*rt, "rec/d").size() == 2);
  CHECK(rt->stats().duplicates == 1);
}

TEST_CASE_METHOD(fixture, "a timer set before a restart fires once after it", "[timer][restart]") {
  {
    auto rt = start_runtime(options_for(dir));
    REQUIRE(rt->tell("rec/tm", note{"timer:1500"}));
    REQUIRE(test::eventually([&] { return rt->stats().timers == 1; }));
  }
  auto rt = start_runtime(options_for(dir));
  CHECK(rt->stats().timers == 1); // re-armed from storage
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  CHECK(journal(*rt, "rec/tm") == std::vector<std::string>{"timer:1500", "fired"});
  CHECK(count_rows(*rt, column::timer) == 0);
}

TEST_CASE_METHOD(fixture, "a subscriber catches up on a topic in order across restarts",
                 "[topic][restart]") {
  {
    auto rt = start_runtime(options_for(dir));
    REQUIRE_FALSE(rt->subscribe("news", "rec/reader"));
    for (int i = 0; i < 10; ++i)
      REQUIRE(rt->tell("rec/pub", note{"pub:news:" + std::to_string(i)}));
    REQUIRE(test::eventually([&] { return journal(*rt, "rec/pub").size() == 10; }));
  }
  auto rt = start_runtime(options_for(dir));
  for (int i = 10; i < 20; ++i)
    REQUIRE(rt->tell("rec/pub", note{"pub:news:" + std::to_string(i)}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/reader").size() == 20 && rt->idle(); }));
  auto j = journal(*rt, "rec/reader");
  for (int i = 0; i < 20; ++i)
    CHECK(j[static_cast<size_t>(i)] == std::to_string(i));
}

TEST_CASE("the durability and scheduling settings are named as in the settings, and nothing else "
          "names one",
          "[settings]") {
  for (auto d : {durability::os, durability::fsync})
    CHECK(durability_named(name_of(d)) == d);
  for (auto s : {scheduling::sharing, scheduling::stealing})
    CHECK(scheduling_named(name_of(s)) == s);
  CHECK(std::string{name_of(durability::fsync)} == "fsync");
  CHECK(std::string{name_of(scheduling::sharing)} == "sharing");
  CHECK_FALSE(durability_named("FSYNC"));
  CHECK_FALSE(durability_named(""));
  CHECK_FALSE(scheduling_named("steal"));
}

TEST_CASE("the runtime's scheduler runs receive timeouts, request timeouts and delayed "
          "messages, and actors that end with a timeout set, under either policy",
          "[scheduler]") {
  using tick_atom = caf::atom_constant<caf::atom("tick")>;
  for (auto policy : {scheduling::sharing, scheduling::stealing}) {
    CAPTURE(name_of(policy));
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.console", caf::atom("none"));
    internal::install_scheduler(cfg, policy);
    caf::actor_system sys{cfg};
    std::atomic<int> timeouts{0}, ticks{0}, request_errors{0};
    sys.spawn([&](caf::event_based_actor* self) -> caf::behavior {
      return {caf::after(std::chrono::milliseconds{20}) >> [&, self] {
        ++timeouts;
        self->quit();
      }};
    });
    sys.spawn([&](caf::event_based_actor* self) -> caf::behavior {
      self->delayed_send(self, std::chrono::milliseconds{20}, tick_atom::value);
      return {[&, self](tick_atom) {
        ++ticks;
        self->quit();
      }};
    });
    // Never answers: the request times out.
    auto silent = sys.spawn(
      [](caf::event_based_actor*) -> caf::behavior { return {[](int) { return caf::skip(); }}; });
    sys.spawn([&, silent](caf::event_based_actor* self) {
      self->request(silent, std::chrono::milliseconds{20}, 1)
        .then([](int) {}, [&](caf::error&) { ++request_errors; });
    });
    // Ends while its receive timeout is set (an hour away).
    auto waiting = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      return {caf::after(std::chrono::seconds{3600}) >> [] {}};
    });
    caf::anon_send_exit(waiting, caf::exit_reason::user_shutdown);
    CHECK(test::eventually([&] { return timeouts == 1 && ticks == 1 && request_errors == 1; }));
    caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_METHOD(fixture, "idle actors are passivated and restored from storage on demand",
                 "[invariant6][passivation]") {
  auto rt = start_runtime(options_for(dir), idle_after(20ms));
  for (int i = 0; i < 100; ++i)
    REQUIRE(rt->tell("rec/v" + std::to_string(i), note{"one"}));
  REQUIRE(
    test::eventually([&] { return rt->stats().passivations == 100 && rt->stats().active == 0; }));
  REQUIRE(rt->tell("rec/v7", note{"report"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/v7").size() == 2; }));
  CHECK(journal(*rt, "rec/v7").back() == "count=1");
}

namespace {

/// A `note` with `text` for `to`, as `accept_batch` takes it.
envelope note_to(std::string to, const std::string& text) {
  envelope env;
  env.to = std::move(to);
  env.type = type_tag<note>::value;
  env.payload = encode(note{text});
  return env;
}

/// Accepts `envs` in one batch and waits for the answer (from a test's own
/// thread); how many were taken.
size_t accept_all(runtime& rt, std::vector<envelope> envs) {
  std::promise<std::vector<runtime::batch_result>> answer;
  rt.accept_batch(std::move(envs), [&](auto r) { answer.set_value(std::move(r)); });
  size_t taken = 0;
  for (const auto& r : answer.get_future().get())
    taken += r.id ? 1 : 0;
  return taken;
}

/// Accepts one `note` for each of `actors` new actors `rec/<prefix><i>`, in
/// batches of 500; every one must be taken.
void greet_actors(runtime& rt, const std::string& prefix, size_t actors) {
  for (size_t from = 0; from < actors; from += 500) {
    std::vector<envelope> envs;
    for (size_t i = from; i < std::min(actors, from + 500); ++i)
      envs.push_back(note_to("rec/" + prefix + std::to_string(i), "one"));
    auto n = envs.size();
    REQUIRE(accept_all(rt, std::move(envs)) == n);
  }
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "freed memory goes back to the system after a wave of passivations, not under a "
                 "steady churn of short-lived actors",
                 "[invariant6][passivation]") {
  SECTION("a churn: 12,000 actors come and go, never more than 1,000 alive") {
    // As MCP calls do (an actor each). Returning pages under it only makes
    // the next allocations fault them in again; the old rule (every 10,000
    // passivations) did so once a second.
    auto rt = start_runtime(options_for(dir), idle_after(0ms));
    for (int round = 0; round < 12; ++round) {
      greet_actors(*rt, "c" + std::to_string(round) + "-", 1'000);
      REQUIRE(test::eventually([&] {
        auto st = rt->stats();
        return st.passivations >= 1'000u * (round + 1) && st.active == 0;
      }));
    }
    // The check runs once a second: two chances to return (wrongly).
    std::this_thread::sleep_for(2500ms);
    CHECK(rt->stats().memory_returns == 0);
  }
  SECTION("a wave: 10,500 actors alive at once, then passivated") {
    // Far above the time to start them all (about 2.5 s under ThreadSanitizer
    // with one scheduler thread, more on a loaded machine).
    auto rt = start_runtime(options_for(dir), idle_after(10s));
    greet_actors(*rt, "w", 10'500);
    REQUIRE(test::eventually([&] { return rt->stats().processed >= 10'500; }));
    // All alive before the first passivation; if this machine took longer
    // than the idle time to get here, the test says so instead of passing.
    REQUIRE(rt->stats().passivations == 0);
    REQUIRE(rt->stats().active >= 10'500);
    REQUIRE(test::eventually([&] { return rt->stats().active == 0; }));
    CHECK(test::eventually([&] { return rt->stats().memory_returns >= 1; }));
  }
}

TEST_CASE_METHOD(fixture,
                 "a kind without idle time passivates each actor once its mailbox is empty and "
                 "loses nothing sent meanwhile",
                 "[invariant6][passivation]") {
  auto rt = start_runtime(options_for(dir), idle_after(0ms));
  for (int i = 0; i < 50; ++i)
    REQUIRE(rt->tell("rec/z" + std::to_string(i), note{"one"}));
  REQUIRE(test::eventually([&] { return rt->stats().passivations >= 50 && rt->idle(); }));
  CHECK(rt->stats().active == 0);
  // Messages racing the passivation of their actor: each is handled once, in order.
  for (int i = 0; i < 200; ++i)
    REQUIRE(rt->tell("rec/z7", note{"m" + std::to_string(i)}));
  REQUIRE(rt->tell("rec/z7", note{"report"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/z7").size() == 202 && rt->idle(); }));
  auto j = journal(*rt, "rec/z7");
  CHECK(j.front() == "one");
  CHECK(j[1] == "m0");
  CHECK(j[200] == "m199");
  CHECK(j.back() == "count=201");
  REQUIRE(test::eventually([&] { return rt->stats().active == 0; }));
}

TEST_CASE_METHOD(fixture,
                 "an actor kept past its flight limit by staged rows runs each once, then "
                 "passivates, with its commits counted rather than sent",
                 "[invariant1][passivation][quiet]") {
  // Staged rows whose steps commit in the write that stages them are
  // counted for their actor, not sent (`quiet_commits`): the actor must
  // still run what waits behind its flights, never a row twice, and reach
  // its idle check with nothing more coming.
  auto rt = start_runtime(options_for(dir), idle_after(50ms));
  constexpr int senders = 2, batches = 20, per_batch = 50;
  std::vector<std::thread> threads;
  std::atomic<int> taken{0};
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&, t] {
      for (int b = 0; b < batches; ++b) {
        std::vector<envelope> envs;
        for (int i = 0; i < per_batch; ++i)
          envs.push_back(
            note_to("rec/busy", "n" + std::to_string((t * batches + b) * per_batch + i)));
        taken += static_cast<int>(accept_all(*rt, std::move(envs)));
      }
    });
  for (auto& t : threads)
    t.join();
  constexpr int total = senders * batches * per_batch;
  REQUIRE(taken == total);
  REQUIRE(
    test::eventually([&] { return rt->stats().passivations >= 1 && rt->stats().active == 0; }));
  auto events = journal(*rt, "rec/busy");
  std::set<std::string> distinct(events.begin(), events.end());
  CHECK(events.size() == static_cast<size_t>(total)); // none twice, none lost
  CHECK(distinct.size() == static_cast<size_t>(total));
  CHECK(rt->stats().pending == 0);
}

TEST_CASE_METHOD(fixture,
                 "an actor that passivates while its last commit is in flight runs that message "
                 "again if the commit fails, and nothing else runs it meanwhile",
                 "[invariant6][passivation]") {
  auto o = options_for(dir);
  // The accept is written before its step, whose commit then fails apart
  // from it (a staged accept would fail with it, and never run).
  o.stage_wait = 0us;
  std::atomic<int> to_fail{3};
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto f = std::make_unique<faulty_storage>(std::move(inner));
    // Fail the first three writes carrying a journal row of rec/retire.
    f->fail_if = [&to_fail](const write_set& ws) {
      for (const auto& op : ws.ops())
        if (op.cf == column::journal && op.key.rfind(keys::actor_prefix("rec/retire"), 0) == 0)
          return to_fail.fetch_sub(1) > 0;
      return false;
    };
    return f;
  };
  auto rt = start_runtime(o, idle_after(0ms));
  REQUIRE(rt->tell("rec/retire", note{"once"}));
  // Sent while the failing commits are retried: each runs once, after it.
  // (One that shares a failing write is refused with it, and sent again.)
  for (int i = 0; i < 20; ++i)
    REQUIRE(test::eventually(
      [&] { return bool(rt->tell("rec/retire", note{"m" + std::to_string(i)})); }));
  REQUIRE(test::eventually([&] { return rt->stats().processed == 21 && rt->idle(); }));
  auto j = journal(*rt, "rec/retire");
  REQUIRE(j.size() == 21);
  CHECK(j.front() == "once");
  for (int i = 0; i < 20; ++i)
    CHECK(j[static_cast<size_t>(i) + 1] == "m" + std::to_string(i));
  CHECK(to_fail.load() <= 0);
  CHECK(count_rows(*rt, column::mailbox, keys::actor_prefix("rec/retire")) == 0);
  REQUIRE(test::eventually([&] { return rt->stats().active == 0; }));
}

TEST_CASE_METHOD(fixture,
                 "the first message of a new actor runs without reading storage, and its next "
                 "activation restores what it journaled",
                 "[invariant6][activation]") {
  // Reads of the actor's own rows: its snapshot, journal and mailbox.
  std::atomic<int64_t> reads{0};
  struct counting_storage : faulty_storage {
    using faulty_storage::faulty_storage;
    std::atomic<int64_t>* reads = nullptr;
    bool mine(std::string_view key) const { return key.rfind("rec/new", 0) == 0; }
    caf::expected<std::optional<std::string>> get(column cf, std::string_view key) override {
      if (mine(key))
        reads->fetch_add(1);
      return faulty_storage::get(cf, key);
    }
    caf::error scan(column cf, std::string_view prefix, std::string_view from,
                    const scan_fn& fn) override {
      if (mine(prefix))
        reads->fetch_add(1);
      return faulty_storage::scan(cf, prefix, from, fn);
    }
  };
  auto o = options_for(dir);
  o.wrap_storage = [&](std::unique_ptr<storage> inner) {
    auto c = std::make_unique<counting_storage>(std::move(inner));
    c->reads = &reads;
    return c;
  };
  auto rt = start_runtime(o, idle_after(0ms));
  for (const auto& text : {"one", "two"}) {
    envelope env;
    env.from = "external";
    env.to = "rec/new-" + std::string{text};
    env.type = type_tag<note>::value;
    env.payload = encode(note{text});
    std::promise<caf::expected<std::string>> accepted;
    rt->accept_new_async(std::move(env),
                         [&](caf::expected<std::string> r) { accepted.set_value(std::move(r)); });
    REQUIRE(accepted.get_future().get());
  }
  REQUIRE(test::eventually(
    [&] { return rt->stats().processed == 2 && rt->idle() && rt->stats().active == 0; }));
  CHECK(reads.load() == 0);
  CHECK(journal(*rt, "rec/new-one") == std::vector<std::string>{"one"});
  CHECK(journal(*rt, "rec/new-two") == std::vector<std::string>{"two"});
  // Passivated, the actor is an ordinary one: its state comes back from storage.
  REQUIRE(rt->tell("rec/new-one", note{"report"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/new-one").size() == 2; }));
  CHECK(journal(*rt, "rec/new-one").back() == "count=1");
  CHECK(reads.load() > 0);
}

TEST_CASE_METHOD(fixture,
                 "a corrupt mailbox record goes to dead letters with a clear reason and the node "
                 "keeps running",
                 "[corrupt][dlq]") {
  auto rt = runtime::open(options_for(dir));
  REQUIRE(rt);
  (*rt)->register_kind("rec", [](std::string_view) { return std::make_unique<recorder>(); });
  write_set ws;
  ws.put(column::mailbox, keys::actor_seq("rec/c", 1'000'000), "\x07garbage that is no envelope");
  REQUIRE_FALSE((*rt)->store().write(ws, true));
  REQUIRE_FALSE((*rt)->start());
  REQUIRE((*rt)->tell("rec/c", note{"fine"}));
  REQUIRE(test::eventually([&] { return (*rt)->idle(); }));
  CHECK(journal(**rt, "rec/c") == std::vector<std::string>{"fine"});
  auto dls = (*rt)->dead_letters(10);
  REQUIRE(dls);
  REQUIRE(dls->size() == 1);
  CHECK(dls->front().error.find("corrupt mailbox record at rec/c seq 1000000")
        != std::string::npos);
  CHECK(dls->front().raw == "\x07garbage that is no envelope");
  CHECK(code_of((*rt)->redrive(dls->front().env.id)) == errc::conflict);
}

TEST_CASE_METHOD(fixture,
                 "a failing disk refuses acceptance with a clear error, loses nothing accepted, "
                 "and the node resumes",
                 "[storage][disk-full]") {
  auto rt = start_runtime(options_for(dir));
  std::vector<std::string> accepted;
  for (int i = 0; i < 20; ++i) {
    REQUIRE(rt->tell("rec/w", note{"before-" + std::to_string(i)}));
    accepted.push_back("before-" + std::to_string(i));
  }
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  // A file-size limit just above the largest file: the next log growth fails
  // with EFBIG, as on a full disk.
  // The span indexer's temporary files come and go meanwhile: one gone
  // between the listing and its size is skipped, not an error.
  uintmax_t largest = 0;
  for (auto& f : std::filesystem::directory_iterator(dir.sub("data"))) {
    std::error_code ec;
    auto size = f.is_regular_file(ec) ? f.file_size(ec) : 0;
    if (!ec)
      largest = std::max(largest, size);
  }
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit tight = saved;
  tight.rlim_cur = largest + 2048;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &tight) == 0);
  caf::error failure;
  for (int i = 0; i < 10'000 && !failure; ++i) {
    auto text = "during-" + std::to_string(i);
    auto r = rt->tell("rec/w", note{text});
    if (r)
      accepted.push_back(text);
    else
      failure = r.error();
  }
  REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
  std::signal(SIGXFSZ, old_handler);
  REQUIRE(failure);
  CHECK(code_of(failure) == errc::storage_write_failed);
  CHECK(render(failure).find("write failed") != std::string::npos);
  // Writes work again: accepting resumes (RocksDB leaves its error state).
  REQUIRE(test::eventually([&] { return static_cast<bool>(rt->tell("rec/w", note{"after"})); }));
  accepted.push_back("after");
  REQUIRE(test::eventually([&] { return rt->idle(); }));
  auto j = journal(*rt, "rec/w");
  for (const auto& text : accepted)
    CHECK(std::count(j.begin(), j.end(), text) == 1);
}

TEST_CASE_METHOD(fixture, "accepting refuses unknown kinds and malformed ids with specific errors",
                 "[mailbox][errors]") {
  auto rt = start_runtime(options_for(dir));
  auto unknown = rt->tell("nope/1", note{"x"});
  REQUIRE_FALSE(unknown);
  CHECK(code_of(unknown.error()) == errc::unknown_actor_kind);
  auto malformed = rt->tell("no-slash", note{"x"});
  REQUIRE_FALSE(malformed);
  CHECK(code_of(malformed.error()) == errc::invalid_argument);
  rt->stop();
  auto stopped = rt->tell("rec/x", note{"x"});
  REQUIRE_FALSE(stopped);
  CHECK(code_of(stopped.error()) == errc::shutting_down);
}

TEST_CASE_METHOD(fixture,
                 "the spans of one commit share a trace row, and every span is found by its "
                 "trace id before the index has it, through the index, and after a restart",
                 "[trace][index]") {
  auto o = options_for(dir);
  o.max_wait = std::chrono::milliseconds{20}; // commits gather the steps ready meanwhile
  constexpr size_t n = 200;
  // Half the ids share their first 16 digits, half differ there in an
  // order unlike their numbers: the indexer sorts on both parts.
  auto trace_of = [](size_t i) {
    char id[33];
    if (i % 2 == 0)
      std::snprintf(id, sizeof id, "%032zx", i + 1);
    else
      std::snprintf(id, sizeof id, "%016llx%016zx",
                    static_cast<unsigned long long>((i + 1) * 0x9e3779b97f4a7c15ull), i + 1);
    return std::string{id};
  };
  auto spans_stored = [](runtime& rt, size_t& rows) {
    size_t spans = 0;
    rows = 0;
    ignore_error(rt.store().scan(column::trace, "", "", [&](std::string_view k, auto v) {
      ++rows;
      CHECK(internal::for_each_span(k, v, [&](auto, auto) { ++spans; }));
      return true;
    }));
    return spans;
  };
  auto found = [&](runtime& rt) {
    size_t all = 0;
    for (size_t i = 0; i < n; i += 7) {
      auto steps = rt.trace_steps(trace_of(i));
      REQUIRE(steps);
      CHECK(steps->size() == 1);
      all += steps->size();
    }
    return all;
  };
  {
    auto rt = start_runtime(o);
    std::vector<envelope> envs;
    for (size_t i = 0; i < n; ++i) {
      envelope env;
      env.to = "rec/g" + std::to_string(i % 40);
      env.type = type_tag<note>::value;
      env.payload = encode(note{"m" + std::to_string(i)});
      env.traceparent = "00-" + trace_of(i) + "-00f067aa0ba902b7-01";
      envs.push_back(std::move(env));
    }
    std::promise<void> accepted;
    rt->accept_batch(std::move(envs), [&](auto) { accepted.set_value(); });
    accepted.get_future().wait();
    REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed >= n; }));
    size_t rows = 0;
    CHECK(spans_stored(*rt, rows) == n);
    CHECK(rows < n); // steps that committed together share a row
    CHECK(found(*rt) == (n + 6) / 7);
    // The indexer (once a second) catches up: its cursor is the last row.
    std::string last_row;
    ignore_error(rt->store().last(column::trace, "", [&](std::string_view k, auto) {
      last_row = k;
      return false;
    }));
    REQUIRE(test::eventually([&] {
      auto at = rt->store().get(column::trace_index, keys::span_index_cursor);
      return at && *at && **at == last_row;
    }));
    CHECK(count_rows(*rt, column::trace_index, "i") >= rows);
    CHECK(found(*rt) == (n + 6) / 7);
    rt->stop();
  }
  auto again = start_runtime(o);
  size_t rows = 0;
  CHECK(spans_stored(*again, rows) == n);
  CHECK(found(*again) == (n + 6) / 7);
}

TEST_CASE_METHOD(fixture, "expired dedupe claims and spans are deleted, keeping storage bounded",
                 "[dedupe][trace][retention]") {
  auto o = options_for(dir);
  o.dedupe_window = 50ms;
  o.span_retention = 50ms;
  auto rt = start_runtime(o);
  auto first = rt->tell("rec/e", note{"once"}, "key-e");
  REQUIRE(first);
  // The step writes one dedupe claim and one span; the retention pass (once
  // a second) deletes both. Observed through its counter of rows deleted,
  // which moves only after the deletion committed: no look in between, so
  // it does not matter when the pass runs.
  REQUIRE(test::eventually([&] { return rt->stats().expired == 2; }));
  CHECK(count_rows(*rt, column::dedupe) == 0);
  CHECK(count_rows(*rt, column::trace) == 0);
  // Past its window the key is free again: a new envelope, handled again.
  auto again = rt->tell("rec/e", note{"once"}, "key-e");
  REQUIRE(again);
  CHECK(*again != *first);
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/e").size() == 2; }));
}

TEST_CASE_METHOD(fixture,
                 "span retention deletes expired spans from the front, many writes a pass, and "
                 "the index's expired hours, and the rest stay findable",
                 "[trace][retention]") {
  auto o = options_for(dir);
  o.span_retention = std::chrono::hours{1};
  auto rt = start_runtime(o);
  // 20,000 spans of an old trace that ended two hours ago (more than one
  // delete write of the pass holds), then 3 of a recent one.
  const std::string old_trace(32, 'a'), new_trace(32, 'b');
  auto span_of = [](const std::string& trace, size_t i, int64_t end_ms) {
    span_record s;
    s.trace_id = trace;
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", i);
    s.span_id = id;
    s.actor = "rec/x";
    s.status = span_status::ok;
    s.start_us = s.end_us = end_ms * 1000;
    return s;
  };
  auto put = [](write_set& ws, const span_record& s) {
    auto us = static_cast<uint64_t>(s.end_us);
    std::string value;
    internal::encode_span(value, s);
    ws.put(column::trace, keys::span(us, s.trace_id, s.span_id), std::move(value));
  };
  write_set ws;
  auto old_ms = now_ms() - 2 * 3600 * 1000;
  for (size_t i = 0; i < 20'000; ++i)
    put(ws, span_of(old_trace, i, old_ms + static_cast<int64_t>(i)));
  for (size_t i = 0; i < 3; ++i)
    put(ws, span_of(new_trace, i, now_ms()));
  // Index rows of the old trace's hour, as the indexer would have written
  // them: retention drops that hour whole.
  auto old_hour =
    static_cast<uint32_t>(static_cast<uint64_t>(old_ms) * 1000 / keys::span_bucket_us);
  std::vector<std::string> keys_held;
  for (size_t i = 0; i < 5; ++i) {
    auto row_us = static_cast<uint64_t>(old_ms + static_cast<int64_t>(i)) * 1000;
    keys_held.push_back(keys::span_index_row(old_trace, keys::span(row_us, old_trace, "00")));
  }
  std::vector<std::pair<std::string_view, std::string_view>> index;
  for (const auto& k : keys_held)
    index.emplace_back(k, "");
  REQUIRE_FALSE(rt->store().ingest(column::trace_index, index));
  CHECK(count_rows(*rt, column::trace_index, keys::span_index_prefix(old_hour, old_trace)) == 5);
  REQUIRE_FALSE(rt->store().write(ws, false));
  REQUIRE(test::eventually([&] { return rt->stats().expired == 20'000; }));
  CHECK(count_rows(*rt, column::trace) == 3);
  REQUIRE(test::eventually([&] {
    return count_rows(*rt, column::trace_index, keys::span_index_prefix(old_hour, old_trace)) == 0;
  }));
  auto kept = rt->trace_steps(new_trace);
  REQUIRE(kept);
  CHECK(kept->size() == 3);
  auto gone = rt->trace_steps(old_trace);
  REQUIRE(gone);
  CHECK(gone->empty());
}

TEST_CASE_METHOD(fixture,
                 "the node API lists a pending timer until it fires, and a topic with its "
                 "subscription's offset",
                 "[http][timer][topic]") {
  auto rt = start_runtime(options_for(dir));
  auto api = make_node_api(*rt, {});
  auto get = [&](const std::string& target) {
    http_request req;
    req.method = "GET";
    req.target = target;
    http_response res;
    api(req, [&res](http_response r) { res = std::move(r); }); // answers at once
    REQUIRE(res.status == 200);
    return res.body;
  };
  // Two timers: one due in an hour stays listed for the whole test; one due
  // at once is listed until it fires, then gone (its "fired" is journaled).
  REQUIRE(rt->tell("rec/later", note{"timer:3600000"}));
  REQUIRE(rt->tell("rec/soon", note{"timer:1"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/soon").size() == 2; }));
  REQUIRE(test::eventually([&] { return rt->stats().timers == 1; }));
  auto timers = get("/api/v1/timers");
  CHECK(timers.find("\"to\":\"rec/later\"") != std::string::npos);
  CHECK(timers.find("\"type\":\"test.note/v1\"") != std::string::npos);
  CHECK(timers.find("rec/soon") == std::string::npos);
  CHECK(journal(*rt, "rec/soon") == std::vector<std::string>{"timer:1", "fired"});

  // A topic with one event and a subscriber that has read it.
  REQUIRE_FALSE(rt->subscribe("news", "rec/reader"));
  REQUIRE(rt->tell("rec/pub", note{"pub:news:hello"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/reader").size() == 1; }));
  auto topics = get("/api/v1/topics");
  CHECK(topics.find("\"name\":\"news\"") != std::string::npos);
  CHECK(topics.find("\"events\":1") != std::string::npos);
  REQUIRE(test::eventually([&] {
    auto subs = get("/api/v1/topics/news/subscriptions");
    return subs.find("\"subscriber\":\"rec/reader\"") != std::string::npos
           && subs.find("\"next_offset\":1") != std::string::npos;
  }));
}

TEST_CASE_METHOD(fixture, "the node API answers 409 for a dead letter that cannot be redriven",
                 "[dlq][http]") {
  auto rt = runtime::open(options_for(dir));
  REQUIRE(rt);
  (*rt)->register_kind("rec", [](std::string_view) { return std::make_unique<recorder>(); });
  write_set ws;
  ws.put(column::mailbox, keys::actor_seq("rec/k", 1), "not an envelope");
  REQUIRE_FALSE((*rt)->store().write(ws, true));
  REQUIRE_FALSE((*rt)->start());
  REQUIRE(test::eventually([&] { return (*rt)->stats().dead_lettered == 1; }));
  auto dls = (*rt)->dead_letters(1);
  REQUIRE(dls);
  REQUIRE(dls->size() == 1);
  auto api = make_node_api(**rt, {});
  http_request req;
  req.method = "POST";
  req.target = "/api/v1/dead-letters/" + dls->front().env.id + "/redrive";
  http_response res;
  api(req, [&res](http_response r) { res = std::move(r); }); // answers at once
  CHECK(res.status == 409);
  CHECK(res.content_type == "application/problem+json");
  CHECK(res.body.find("\"code\":\"conflict\"") != std::string::npos);
  CHECK(res.body.find("corrupt record") != std::string::npos);
}

TEST_CASE_METHOD(fixture,
                 "messages waiting for an actor run back to back in one commit and one failing "
                 "among them leaves nothing behind and fails alone",
                 "[step][batch]") {
  kind_options ko;
  ko.retry.max_attempts = 1; // the failing one is dead-lettered at once
  auto o = options_for(dir);
  // Written, then routed: staged rows would run behind the commit in
  // flight, one request each, to meet the write that waits for them.
  o.stage_wait = 0us;
  auto rt = start_runtime(o, ko);
  the_hooks.close_gate();
  REQUIRE(rt->tell("rec/b", note{"gate"}));
  for (const char* t : {"a", "b", "emit-then-fail", "c", "d"})
    REQUIRE(rt->tell("rec/b", note{t}));
  auto requests = rt->stats().commit_ops;
  the_hooks.open_gate();
  REQUIRE(test::eventually([&] {
    auto s = rt->stats();
    return s.pending == 0 && s.dead_letters == 1;
  }));
  // One request for the gate (or the gate with what followed it), one for
  // a and b, one for the failure alone, one for c and d: each alone would
  // take six.
  CHECK(rt->stats().commit_ops - requests <= 4);
  // The failed handler's event is neither journaled nor in the state.
  CHECK(journal(*rt, "rec/b") == std::vector<std::string>{"gate", "a", "b", "c", "d"});
  REQUIRE(rt->tell("rec/b", note{"report"}));
  REQUIRE(test::eventually([&] { return journal(*rt, "rec/b").back() == "count=5"; }));
  auto dead = rt->dead_letters(10);
  REQUIRE(dead);
  REQUIRE(dead->size() == 1);
  CHECK(decode<note>(dead->front().env.payload)->text == "emit-then-fail");
}

TEST_CASE_METHOD(fixture,
                 "an actor's rows of one write reach it together, past its window too, in order "
                 "and once, whatever other requests share the write",
                 "[runtime][delivery]") {
  auto o = options_for(dir);
  // 8: one write carries far more rows per actor than its window holds, the
  // rest is read from storage; 256: all of them are taken from the hand-off;
  // 2048 with reads of 8 rows: the window, not the read size, bounds what an
  // activation holds as rows arrive.
  auto [window, read] = GENERATE(table<size_t, size_t>({{8, 512}, {256, 512}, {2048, 8}}));
  o.activation_queue = window;
  o.mailbox_read = read;
  INFO("window " << window << ", reads of " << read);
  auto rt = start_runtime(o);
  const std::vector<std::string> actors{"rec/d0", "rec/d1", "rec/d2"};
  // Active first, so that what follows reaches them through the hand-off
  // rather than through an activation's first read of its mailbox.
  for (auto& a : actors)
    REQUIRE(rt->tell(a, note{"warm"}));
  REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed >= 3; }));
  auto read_before = rt->stats().mailbox_rows_read;
  // One request, interleaved: each actor's 200 rows go over in one hand-off.
  {
    std::vector<envelope> envs;
    for (int i = 0; i < 200; ++i)
      for (auto& a : actors) {
        envelope env;
        env.to = a;
        env.type = type_tag<note>::value;
        env.payload = encode(note{"one-" + std::to_string(i)});
        envs.push_back(std::move(env));
      }
    std::promise<void> accepted;
    rt->accept_batch(std::move(envs), [&](auto) { accepted.set_value(); });
    accepted.get_future().wait();
  }
  // Then four producers at once: their requests share writes, and each
  // actor's rows of a write come from several of them.
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p)
    producers.emplace_back([&, p] {
      for (int b = 0; b < 25; ++b) {
        std::vector<envelope> envs;
        for (int i = 0; i < 6; ++i) {
          envelope env;
          env.to = actors[static_cast<size_t>(i) % actors.size()];
          env.type = type_tag<note>::value;
          env.payload = encode(note{"p" + std::to_string(p) + "-" + std::to_string(b * 6 + i)});
          envs.push_back(std::move(env));
        }
        std::promise<void> accepted;
        rt->accept_batch(std::move(envs), [&](auto) { accepted.set_value(); });
        accepted.get_future().wait();
      }
    });
  for (auto& t : producers)
    t.join();
  REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed >= 3 + 600 + 600; }));
  for (auto& a : actors) {
    INFO(a);
    auto got = journal(*rt, a);
    REQUIRE_FALSE(got.empty());
    CHECK(got.front() == "warm");
    got.erase(got.begin());
    CHECK(got.size() == 400);
    std::vector<std::string> first(got.begin(), got.begin() + std::min<size_t>(200, got.size()));
    std::vector<std::string> want;
    for (int i = 0; i < 200; ++i)
      want.push_back("one-" + std::to_string(i));
    CHECK(first == want);
    // Each producer's rows for this actor, in the order it sent them.
    std::map<std::string, int> last;
    std::set<std::string> seen;
    for (size_t k = 200; k < got.size(); ++k) {
      CHECK(seen.insert(got[k]).second);
      auto dash = got[k].find('-');
      auto producer = got[k].substr(0, dash);
      auto n = std::stoi(got[k].substr(dash + 1));
      auto it = last.find(producer);
      CHECK((it == last.end() || it->second < n));
      last[producer] = n;
    }
  }
  CHECK(count_rows(*rt, column::mailbox) == 0);
  // Rows past a window wait in storage and are read back; within it, none.
  auto read_back = rt->stats().mailbox_rows_read - read_before;
  if (window == 8)
    CHECK(read_back > 0);
  else
    CHECK(read_back == 0);
}
