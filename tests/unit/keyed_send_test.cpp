// SPDX-License-Identifier: Apache-2.0
// A send with an idempotency key the handler chose reaches its receiver at
// most once per key, whichever step of whichever actor sends it.
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

/// "Charge order X": sent by `order` actors to `payment/<X>`.
struct charge {
  std::string order;
  std::string key; ///< the key the sender uses ("" = none)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, charge& x) {
  return f(caf::meta::type_name("test.charge"), x.order, x.key);
}

struct count_state {
  uint64_t n = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, count_state& x) {
  return f(caf::meta::type_name("test.count_state"), x.n);
}

} // namespace

CAIRN_MESSAGE_TYPE(charge, "test.charge/v1");

namespace {

/// Forwards each charge to `payment/<order>`, with the key it carries.
class order_actor : public stateful_actor<count_state> {
public:
  order_actor() {
    on<charge>([](context& ctx, const charge& c) -> caf::error {
      if (c.key.empty())
        ctx.send("payment/" + c.order, c);
      else
        ctx.send("payment/" + c.order, c, c.key);
      return {};
    });
  }
};

/// Journals every charge it receives.
class payment_actor : public stateful_actor<count_state> {
public:
  payment_actor() {
    on<charge>([](context& ctx, const charge& c) -> caf::error {
      ctx.emit(c);
      return {};
    });
    on_event<charge>([this](const charge&) { ++state.n; });
  }
};

size_t journal_length(runtime& rt, const std::string& id) {
  size_t n = 0;
  ignore_error(rt.read_journal(id, 1, 1000, [&](const journal_entry&) { ++n; }));
  return n;
}

} // namespace

TEST_CASE("a send keyed by its handler reaches its receiver once per key, from any actor",
          "[send][idempotency]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 2;
  auto r = runtime::open(o);
  REQUIRE(r);
  auto& rt = **r;
  REQUIRE_FALSE(
    rt.register_kind("order", [](std::string_view) { return std::make_unique<order_actor>(); }));
  REQUIRE_FALSE(rt.register_kind(
    "payment", [](std::string_view) { return std::make_unique<payment_actor>(); }));
  REQUIRE_FALSE(rt.start());
  // Two requests for the same charge, through two different actors, with
  // the same business key: one charge.
  REQUIRE(rt.tell("order/a", charge{"o1", "charge/o1"}));
  REQUIRE(rt.tell("order/b", charge{"o1", "charge/o1"}));
  // A different key, and no key at all: each gets through.
  REQUIRE(rt.tell("order/a", charge{"o1", "charge/o1/again"}));
  REQUIRE(rt.tell("order/c", charge{"o2", ""}));
  REQUIRE(rt.tell("order/c", charge{"o2", ""}));
  REQUIRE(test::eventually([&] { return rt.stats().processed == 5 + 4; }));
  REQUIRE(test::eventually([&] { return rt.idle(); }));
  CHECK(journal_length(rt, "payment/o1") == 2);
  CHECK(journal_length(rt, "payment/o2") == 2);
  rt.stop();
}
