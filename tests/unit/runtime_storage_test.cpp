// SPDX-License-Identifier: Apache-2.0
// What the runtime keeps in storage and shows of it, against real RocksDB:
// refusals at the door, span rows and their index, retention, the node API's
// views of timers, topics and dead letters, and rows handed over per write.
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
