// SPDX-License-Identifier: Apache-2.0
// Failures, traces and time against real RocksDB: retries and dead letters,
// trace context across restarts, busy under a flood, idempotency keys,
// durable timers and topics, and the scheduler's timeouts (invariants 4, 5).
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
                 "messages given neither an id nor a trace each start a trace of their own, "
                 "found by its id before and after the indexer runs",
                 "[invariant5][trace]") {
  auto rt = start_runtime(options_for(dir));
  // One batch to one actor: its steps run as one flight, whose spans leave
  // out the ids the node gave (span_codec.hpp, layout 8).
  constexpr size_t n = 40;
  std::vector<envelope> envs;
  for (size_t i = 0; i < n; ++i) {
    envelope env;
    env.to = "rec/flight";
    env.type = type_tag<note>::value;
    env.payload = encode(note{"m" + std::to_string(i)});
    envs.push_back(std::move(env));
  }
  std::promise<std::vector<runtime::batch_result>> taken;
  rt->accept_batch(std::move(envs), [&](auto r) { taken.set_value(std::move(r)); });
  std::vector<std::string> ids;
  for (const auto& r : taken.get_future().get()) {
    REQUIRE(r.id);
    ids.push_back(*r.id);
  }
  REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed == n; }));
  std::map<std::string, span_record> by_envelope;
  ignore_error(rt->store().scan(column::trace, "", "", [&](std::string_view k, std::string_view v) {
    CHECK(internal::for_each_span(k, v, [&](std::string_view key, std::string_view span) {
      auto s = internal::decode_span(key, span);
      REQUIRE(s);
      by_envelope[s->envelope_id] = *s;
    }));
    return true;
  }));
  REQUIRE(by_envelope.size() == n);
  std::set<std::string> traces;
  for (const auto& id : ids) {
    INFO(id);
    REQUIRE(by_envelope.count(id) == 1);
    const auto& s = by_envelope[id];
    trace_context tc;
    CHECK(parse_traceparent("00-" + s.trace_id + "-" + s.parent_span_id + "-01", tc));
    CHECK(s.span_id == step_span_id(id, 0));
    traces.insert(s.trace_id);
  }
  CHECK(traces.size() == n); // a trace each
  auto found = [&] {
    for (const auto& id : ids) {
      auto steps = rt->trace_steps(by_envelope[id].trace_id);
      if (!steps || steps->size() != 1 || (*steps)[0].envelope_id != id)
        return false;
    }
    return true;
  };
  CHECK(found()); // the rows after the index's cursor, read whole
  // An index row per trace once every row is indexed (the indexer's walk
  // takes each left-out trace id back from its envelope id).
  REQUIRE(test::eventually([&] { return count_rows(*rt, column::trace_index, "i") == n; }));
  CHECK(found()); // through the index
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

TEST_CASE_METHOD(fixture, "a batch answers each refused envelope in its place and takes the others",
                 "[batch]") {
  auto rt = start_runtime(options_for(dir));
  std::vector<envelope> envs;
  envs.push_back(note_to("rec/b-first", "one"));
  envs.push_back(note_to("no-kind-or-key", "two"));
  envs.push_back(note_to("ghost/x", "three"));
  auto untyped = note_to("rec/b-untyped", "four");
  untyped.type.clear();
  envs.push_back(std::move(untyped));
  envs.push_back(note_to("rec/b-last", "five"));
  std::promise<std::vector<runtime::batch_result>> taken;
  rt->accept_batch(std::move(envs), [&](auto r) { taken.set_value(std::move(r)); });
  auto results = taken.get_future().get();
  REQUIRE(results.size() == 5);
  REQUIRE(results[0].id);
  REQUIRE(results[4].id);
  CHECK(*results[0].id != *results[4].id);
  REQUIRE_FALSE(results[1].id);
  CHECK(code_of(results[1].id.error()) == errc::invalid_argument);
  REQUIRE_FALSE(results[2].id);
  CHECK(code_of(results[2].id.error()) == errc::unknown_actor_kind);
  REQUIRE_FALSE(results[3].id);
  CHECK(code_of(results[3].id.error()) == errc::invalid_argument);
  // The two taken ran, each once; nothing of the refused ones was kept.
  REQUIRE(test::eventually([&] { return rt->idle() && rt->stats().processed == 2; }));
  CHECK(journal(*rt, "rec/b-first").size() == 1);
  CHECK(journal(*rt, "rec/b-last").size() == 1);
  CHECK(journal(*rt, "rec/b-untyped").empty());
  CHECK(rt->stats().accepted == 2);
}
