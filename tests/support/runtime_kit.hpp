// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the runtime tests (runtime_*test.cpp) share: the recorder actor and its
// `note` message, the hooks a test turns to steer it, storages that fail or
// record chosen writes, and helpers that start a runtime and read it back.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "forwarding_storage.hpp"
#include "temp_dir.hpp"

namespace cairn::test::runtime_kit {

using namespace std::chrono_literals;

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

} // namespace cairn::test::runtime_kit

CAIRN_MESSAGE_TYPE(cairn::test::runtime_kit::note, "test.note/v1");

namespace cairn::test::runtime_kit {

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

inline hooks the_hooks;

inline bool starts_with(const std::string& s, const std::string& p) {
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

inline runtime_options options_for(const test::temp_dir& dir) {
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  return o;
}

/// The recorder kind's options with actors passivating after `idle` with an empty mailbox.
inline kind_options idle_after(std::chrono::milliseconds idle) {
  kind_options ko;
  ko.idle_timeout = idle;
  return ko;
}

inline std::unique_ptr<runtime> start_runtime(runtime_options o, kind_options ko = {}) {
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  (*rt)->register_kind(
    "rec", [](std::string_view) { return std::make_unique<recorder>(); }, ko);
  REQUIRE_FALSE((*rt)->start());
  return std::move(*rt);
}

inline std::vector<std::string> journal(runtime& rt, const std::string& actor) {
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

inline size_t count_rows(runtime& rt, column cf, const std::string& prefix = {}) {
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

/// A `note` with `text` for `to`, as `accept_batch` takes it.
inline envelope note_to(std::string to, const std::string& text) {
  envelope env;
  env.to = std::move(to);
  env.type = type_tag<note>::value;
  env.payload = encode(note{text});
  return env;
}

/// Accepts `envs` in one batch and waits for the answer (from a test's own
/// thread); how many were taken.
inline size_t accept_all(runtime& rt, std::vector<envelope> envs) {
  std::promise<std::vector<runtime::batch_result>> answer;
  rt.accept_batch(std::move(envs), [&](auto r) { answer.set_value(std::move(r)); });
  size_t taken = 0;
  for (const auto& r : answer.get_future().get())
    taken += r.id ? 1 : 0;
  return taken;
}

/// Accepts one `note` for each of `actors` new actors `rec/<prefix><i>`, in
/// batches of 500; every one must be taken.
inline void greet_actors(runtime& rt, const std::string& prefix, size_t actors) {
  for (size_t from = 0; from < actors; from += 500) {
    std::vector<envelope> envs;
    for (size_t i = from; i < std::min(actors, from + 500); ++i)
      envs.push_back(note_to("rec/" + prefix + std::to_string(i), "one"));
    auto n = envs.size();
    REQUIRE(accept_all(rt, std::move(envs)) == n);
  }
}

} // namespace cairn::test::runtime_kit
