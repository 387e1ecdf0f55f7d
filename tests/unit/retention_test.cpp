// SPDX-License-Identifier: Apache-2.0
// Journal retention per kind: events a snapshot covers are deleted once
// their kind's retention allows, never those the state is rebuilt from, and
// an actor rebuilt after a restart has the same state.
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

struct tick {
  uint64_t n = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tick& x) {
  return f(caf::meta::type_name("test.tick"), x.n);
}

struct sum_state {
  uint64_t sum = 0;
  uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sum_state& x) {
  return f(caf::meta::type_name("test.sum_state"), x.sum, x.count);
}

} // namespace

CAIRN_MESSAGE_TYPE(tick, "test.tick/v1");

namespace {

class summer : public stateful_actor<sum_state> {
public:
  summer() {
    on<tick>([](context& ctx, const tick& t) -> caf::error {
      ctx.emit(t);
      return {};
    });
    on_event<tick>([this](const tick& t) {
      state.sum += t.n;
      ++state.count;
    });
  }
  std::optional<std::string> describe() const override {
    return "{\"sum\":" + std::to_string(state.sum) + ",\"count\":" + std::to_string(state.count)
           + "}";
  }
};

std::unique_ptr<runtime> open_node(const test::temp_dir& dir) {
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  auto r = runtime::open(o);
  REQUIRE(r);
  auto add = [&](const char* kind, std::optional<std::chrono::milliseconds> keep) {
    kind_options ko;
    ko.snapshot_every = 2;
    ko.keep_covered_events = keep;
    REQUIRE_FALSE((*r)->register_kind(
      kind, [](std::string_view) { return std::make_unique<summer>(); }, ko));
  };
  add("all", std::nullopt); // the default: the whole audit trail
  add("compact", 0ms);      // only what no snapshot covers
  add("recent", 1h);        // covered events for an hour
  REQUIRE_FALSE((*r)->start());
  return std::move(*r);
}

std::vector<uint64_t> journal_seqs(runtime& rt, const std::string& id) {
  std::vector<uint64_t> out;
  ignore_error(rt.read_journal(id, 1, 1000, [&](const journal_entry& e) { out.push_back(e.seq); }));
  return out;
}

} // namespace

TEST_CASE("a kind's journal retention deletes only events a snapshot covers, once allowed",
          "[retention][journal]") {
  test::temp_dir dir;
  {
    auto rt = open_node(dir);
    for (const char* id : {"all/a", "compact/a", "recent/a"})
      for (uint64_t n = 1; n <= 5; ++n)
        REQUIRE(rt->tell(id, tick{n}));
    REQUIRE(test::eventually([&] { return rt->stats().processed == 15; }));
    // Snapshots after events 2 and 4 cover 1 to 4; event 5 is not covered.
    REQUIRE(test::eventually([&] { return rt->stats().journal_pruned == 4; }));
    CHECK(journal_seqs(*rt, "compact/a") == std::vector<uint64_t>{5});
    CHECK(journal_seqs(*rt, "all/a") == std::vector<uint64_t>{1, 2, 3, 4, 5});
    // Young events are kept for their hour.
    CHECK(journal_seqs(*rt, "recent/a") == std::vector<uint64_t>{1, 2, 3, 4, 5});
  }
  // Rebuilt from its snapshot and what follows it: the same state.
  auto rt = open_node(dir);
  for (const char* id : {"all/a", "compact/a", "recent/a"}) {
    auto d = rt->describe(id);
    REQUIRE(d);
    CHECK(d->state_json == R"({"sum":15,"count":5})");
  }
  REQUIRE(rt->tell("compact/a", tick{10}));
  REQUIRE(test::eventually([&] { return rt->stats().processed == 1; }));
  CHECK(rt->describe("compact/a")->state_json == R"({"sum":25,"count":6})");
  // Event 6 gave a snapshot covering 5 and 6: both go.
  REQUIRE(test::eventually([&] { return rt->stats().journal_pruned == 2; }));
  CHECK(journal_seqs(*rt, "compact/a").empty());
  CHECK(rt->describe("compact/a")->journal_length == 6);
}
