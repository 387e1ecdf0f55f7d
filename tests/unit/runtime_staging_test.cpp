// SPDX-License-Identifier: Apache-2.0
// Staged accepts against real RocksDB: a message routed to its actor while
// its write waits, written with its step or put in the mailbox after, and
// what a failed write does to both (docs/execution.md, "Staged accepts").
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
#include "runtime_kit.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::runtime_kit;
using namespace std::chrono_literals;

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
                 "staged messages from several senders, through small windows, passivation and "
                 "failing writes, are each handled once and each sender's in its order",
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
