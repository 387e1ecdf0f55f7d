// SPDX-License-Identifier: Apache-2.0
#include "cairn/actors/delivery.hpp"

#include <functional>

#include <boost/json.hpp>

namespace cairn::actors {

namespace {

/// Counters each worker keeps; rebuilt from its journal.
struct worker_state {
  uint64_t handled = 0;
  uint64_t units = 0; ///< reserved stock, charged cents, drivers assigned ...
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_state& x) {
  return f(caf::meta::type_name("demo.worker_state"), x.handled, x.units);
}

/// The last stage's "next message": nothing is sent.
struct done_msg : order_msg {};

template <class In, class Out>
class stage_worker : public stateful_actor<worker_state> {
public:
  using step_fn = std::function<caf::error(context&, const In&, Out&, std::string& detail)>;

  stage_worker(std::string stage, std::string next_kind,
               std::function<std::string(const In&)> next_key, step_fn fn)
    : stage_(std::move(stage)), next_kind_(std::move(next_kind)), next_key_(std::move(next_key)),
      fn_(std::move(fn)) {
    on<In>([this](context& ctx, const In& m) { return run(ctx, m); });
    on_event<stage_done>([this](const stage_done&) { ++state.handled; });
  }

  std::optional<std::string> describe() const override {
    return "{\"stage\":\"" + stage_ + "\",\"handled\":" + std::to_string(state.handled) + "}";
  }

protected:
  caf::error run(context& ctx, const In& m) {
    Out out;
    static_cast<order_msg&>(out) = static_cast<const order_msg&>(m);
    std::string detail;
    if (auto err = fn_(ctx, m, out, detail))
      return err;
    ctx.emit(stage_done{m.order_id, stage_, detail});
    if constexpr (!std::is_same_v<Out, done_msg>)
      ctx.send(next_kind_ + "/" + next_key_(m), out);
    return {};
  }

private:
  std::string stage_;
  std::string next_kind_;
  std::function<std::string(const In&)> next_key_;
  step_fn fn_;
};

/// Order intake also takes orders as JSON (from the HTTP API and `cairn send`):
/// `{"customer": "c1", "sku": "sku-milk", "region": "north", "quantity": 2,
///   "amount_cents": 1200}`; the order id is the actor's key.
class order_intake : public stage_worker<place_order, reserve_stock> {
public:
  template <class... Ts>
  explicit order_intake(Ts&&... xs) : stage_worker(std::forward<Ts>(xs)...) {
    on_json(type_tag<place_order>::value, [this](context& ctx, std::string_view text) {
      boost::system::error_code ec;
      auto v = boost::json::parse(text, ec);
      if (ec || !v.is_object())
        return make_error(errc::invalid_argument, "order JSON is not an object");
      auto& o = v.as_object();
      place_order m;
      m.order_id = ctx.self().substr(ctx.self().find('/') + 1);
      auto text_field = [&](const char* name, std::string& out) {
        if (auto* f = o.if_contains(name); f && f->is_string())
          out = std::string{f->as_string()};
      };
      text_field("customer", m.customer);
      text_field("sku", m.sku);
      text_field("region", m.region);
      if (auto* f = o.if_contains("quantity"); f && f->is_int64() && f->as_int64() >= 0)
        m.quantity = static_cast<uint32_t>(f->as_int64());
      if (auto* f = o.if_contains("amount_cents"); f && f->is_int64() && f->as_int64() >= 0)
        m.amount_cents = static_cast<uint64_t>(f->as_int64());
      if (m.customer.empty() || m.sku.empty() || m.region.empty())
        return make_error(errc::invalid_argument,
                          "order JSON needs string fields customer, sku and region");
      return run(ctx, m);
    });
  }
};

// The payment gateway stands in for the outside world: it fails at the
// configured rate, per attempt. The idempotency key is what a real gateway
// would use to make the retried charge happen once.
bool gateway_fails(const std::string& idempotency_key, uint32_t attempt, double rate) {
  auto h = std::hash<std::string>{}(idempotency_key + "#" + std::to_string(attempt));
  return static_cast<double>(h % 1'000'000) < rate * 1'000'000.0;
}

} // namespace

place_order make_demo_order(uint64_t n) {
  static const char* skus[] = {"sku-bread", "sku-milk", "sku-eggs", "sku-apples", "sku-coffee"};
  static const char* regions[] = {"north", "south", "east", "west"};
  place_order o;
  o.order_id = "o" + std::to_string(n);
  o.customer = "c" + std::to_string(n % 997);
  o.sku = skus[n % 5];
  o.region = regions[n % 4];
  o.quantity = static_cast<uint32_t>(1 + n % 3);
  o.amount_cents = 500 + (n * 37) % 5000;
  return o;
}

void register_delivery_demo(runtime& rt, const delivery_options& opts) {
  kind_options quick;
  quick.idle_timeout = std::chrono::milliseconds{2'000};
  rt.register_kind(
    "order",
    [](std::string_view) {
      return std::make_unique<order_intake>(
        "intake", "inventory", [](const place_order& m) { return m.sku; },
        [](context&, const place_order& m, reserve_stock&, std::string& detail) -> caf::error {
          if (m.quantity == 0)
            return make_error(errc::invalid_argument, "order " + m.order_id + " has no items");
          detail = "accepted";
          return {};
        });
    },
    quick);
  rt.register_kind(
    "inventory",
    [](std::string_view) {
      return std::make_unique<stage_worker<reserve_stock, charge_payment>>(
        "inventory", "payment", [](const reserve_stock& m) { return m.order_id; },
        [](context&, const reserve_stock& m, charge_payment&, std::string& detail) -> caf::error {
          detail = "reserved " + std::to_string(m.quantity) + " x " + m.sku;
          return {};
        });
    },
    quick);
  kind_options pay = quick;
  pay.retry = opts.payment_retry;
  auto rate = opts.payment_failure_rate;
  rt.register_kind(
    "payment",
    [rate](std::string_view) {
      return std::make_unique<stage_worker<charge_payment, dispatch_order>>(
        "payment", "dispatch", [](const charge_payment& m) { return m.region; },
        [rate](context& ctx, const charge_payment& m, dispatch_order&,
               std::string& detail) -> caf::error {
          if (gateway_fails(ctx.idempotency_key(), ctx.message().attempt, rate))
            return make_error(errc::handler_failed, "payment gateway unavailable");
          detail =
            "charged " + std::to_string(m.amount_cents) + " cents, key " + ctx.idempotency_key();
          return {};
        });
    },
    pay);
  rt.register_kind(
    "dispatch",
    [](std::string_view) {
      return std::make_unique<stage_worker<dispatch_order, notify_customer>>(
        "dispatch", "notify", [](const dispatch_order& m) { return m.customer; },
        [](context&, const dispatch_order& m, notify_customer& out,
           std::string& detail) -> caf::error {
          out.driver =
            "driver-" + m.region + "-" + std::to_string(std::hash<std::string>{}(m.order_id) % 50);
          detail = "assigned " + out.driver;
          return {};
        });
    },
    quick);
  rt.register_kind(
    "notify",
    [](std::string_view) {
      return std::make_unique<stage_worker<notify_customer, done_msg>>(
        "notify", "", [](const notify_customer&) { return std::string{}; },
        [](context&, const notify_customer& m, done_msg&, std::string& detail) -> caf::error {
          detail = "told " + m.customer + " that " + m.driver + " is on the way";
          return {};
        });
    },
    quick);
}

} // namespace cairn::actors
