// SPDX-License-Identifier: Apache-2.0
#include "cairn/actors/delivery.hpp"

#include <functional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cairn/json_codec.hpp"

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

/// How many attempts the message being handled has had, this one included.
uint32_t attempts_of(const context& ctx) {
  return ctx.message().attempt + 1;
}

template <class In, class Out>
class stage_worker : public stateful_actor<worker_state> {
public:
  using step_fn = std::function<caf::error(context&, const In&, Out&, std::string& detail)>;

  /// `once`: the actor is one order's (`payment/<order id>`) and handles its
  /// order once; a repeated message is journaled as `order_repeated` and
  /// ignored.
  stage_worker(std::string stage, std::string next_kind,
               std::function<std::string(const In&)> next_key, step_fn fn, bool once = false)
    : stage_(std::move(stage)), next_kind_(std::move(next_kind)), next_key_(std::move(next_key)),
      fn_(std::move(fn)), once_(once) {
    on<In>([this](context& ctx, const In& m) { return run(ctx, m); });
    on_event<stage_done>([this](const stage_done&) { ++state.handled; });
    on_event<order_repeated>([](const order_repeated&) {});
  }

  std::optional<std::string> describe() const override {
    return "{\"stage\":\"" + stage_ + "\",\"handled\":" + std::to_string(state.handled) + "}";
  }

protected:
  caf::error run(context& ctx, const In& m) {
    if (once_ && state.handled > 0) {
      ctx.emit(order_repeated{ctx.message().id});
      return {};
    }
    Out out;
    static_cast<order_msg&>(out) = static_cast<const order_msg&>(m);
    std::string detail;
    if (auto err = fn_(ctx, m, out, detail))
      return err;
    ctx.emit(stage_done{m.order_id, stage_, detail});
    // Keyed by the order: whatever repeats upstream, each hop's message for
    // one order is sent once (the order id is the chain's idempotency key).
    if constexpr (!std::is_same_v<Out, done_msg>)
      ctx.send(next_kind_ + "/" + next_key_(m), out, m.order_id + "/" + next_kind_);
    ctx.send("order/" + m.order_id, hop_report{m.order_id, stage_, "ok", detail, attempts_of(ctx)},
             m.order_id + "/report/" + stage_);
    return {};
  }

private:
  std::string stage_;
  std::string next_kind_;
  std::function<std::string(const In&)> next_key_;
  step_fn fn_;
  bool once_;
};

/// The order: intake of the chain and the record of every hop's outcome.
struct order_state {
  bool placed = false;
  uint64_t repeated = 0;        ///< place_order messages ignored as repeats
  std::vector<hop_report> hops; ///< the latest report of each stage, in arrival order
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_state& x) {
  return f(caf::meta::type_name("demo.order_state"), x.placed, x.repeated, x.hops);
}

/// `order/<id>`: places the order once (the order id is the idempotency key
/// of the chain) and collects the hops' reports. Also takes orders as JSON
/// (from the HTTP API and `cairn send`): `{"customer": "c1", "sku":
/// "sku-milk", "region": "north", "quantity": 2, "amount_cents": 1200}`; the
/// order id is the actor's key.
class order_intake : public stateful_actor<order_state> {
public:
  order_intake() {
    on<place_order>([this](context& ctx, const place_order& m) { return place(ctx, m); });
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
      return place(ctx, m);
    });
    on<hop_report>([](context& ctx, const hop_report& r) -> caf::error {
      ctx.emit(r);
      return {};
    });
    // Journals written before hops reported back hold the intake as stage_done.
    on_event<stage_done>([this](const stage_done& e) {
      state.placed = true;
      record(hop_report{e.order_id, e.stage, "ok", e.detail, 1});
    });
    on_event<hop_report>([this](const hop_report& r) {
      if (r.stage == "intake")
        state.placed = true;
      record(r);
    });
    on_event<order_repeated>([this](const order_repeated&) { ++state.repeated; });
  }

  std::optional<std::string> describe() const override {
    boost::json::array hops;
    std::string status = state.placed ? "in_progress" : "new";
    for (auto& h : state.hops) {
      hops.push_back(boost::json::object{
        {"stage", h.stage}, {"status", h.status}, {"detail", h.detail}, {"attempts", h.attempts}});
      if (h.status != "ok")
        status = "failed";
      else if (h.stage == "notify" && status != "failed")
        status = "completed";
    }
    boost::json::object o{{"stage", state.hops.empty() ? "" : state.hops.back().stage},
                          {"status", status},
                          {"repeated", state.repeated},
                          {"hops", std::move(hops)}};
    return boost::json::serialize(o);
  }

private:
  caf::error place(context& ctx, const place_order& m) {
    if (state.placed) {
      ctx.emit(order_repeated{ctx.message().id});
      return {};
    }
    if (m.quantity == 0)
      return make_error(errc::invalid_argument, "order " + m.order_id + " has no items");
    reserve_stock out;
    static_cast<order_msg&>(out) = static_cast<const order_msg&>(m);
    ctx.emit(hop_report{m.order_id, "intake", "ok", "accepted", attempts_of(ctx)});
    ctx.send("inventory/" + m.sku, out, m.order_id + "/inventory");
    return {};
  }

  void record(hop_report r) {
    for (auto& h : state.hops)
      if (h.stage == r.stage) {
        h = std::move(r);
        return;
      }
    state.hops.push_back(std::move(r));
  }
};

// The payment gateway stands in for the outside world: it fails at the
// configured rate, per attempt. The idempotency key is what a real gateway
// would use to make the retried charge happen once; it is derived from the
// order id, so whether an attempt fails is known in advance per order id
// and attempt (a test can pick orders that pass or fail).
bool gateway_fails(const std::string& idempotency_key, uint32_t attempt, double rate) {
  auto h = std::hash<std::string>{}(idempotency_key + "#" + std::to_string(attempt));
  return static_cast<double>(h % 1'000'000) < rate * 1'000'000.0;
}

/// Tells `order/<id>` that a hop's message was dead-lettered (from the commit
/// thread: never waits). Its idempotency key is the dead letter's id, so a
/// redriven and again dead-lettered message reports again, once.
std::function<void(const dead_letter&)> report_dead_letter(runtime& rt, std::string stage) {
  return [&rt, stage = std::move(stage)](const dead_letter& dl) {
    auto m = decode<order_msg>(dl.env.payload);
    if (!m || m->order_id.empty())
      return;
    envelope env;
    env.from = dl.env.to;
    env.to = "order/" + m->order_id;
    env.type = type_tag<hop_report>::value;
    env.payload = encode(hop_report{m->order_id, stage, "failed", dl.error, dl.attempts});
    env.idempotency_key = dl.env.id + "/reported";
    env.traceparent = dl.env.traceparent;
    rt.accept_async(std::move(env), [](caf::expected<std::string>) {});
  };
}

/// A place_order sent as JSON (the HTTP API, `cairn send`): the order id is
/// the actor's key; customer, sku and region are required.
struct order_request {
  std::string customer;
  std::string sku;
  std::string region;
  caf::optional<uint32_t> quantity;     // 1 if not given
  caf::optional<uint64_t> amount_cents; // 0 if not given
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_request& x) {
  return f(caf::meta::type_name("demo.order_request"), field{"customer"}, x.customer, field{"sku"},
           x.sku, field{"region"}, x.region, field{"quantity"}, x.quantity, field{"amount_cents"},
           x.amount_cents);
}

/// The door of `order/<id>`: a JSON order is checked field by field before
/// it is accepted, and stored as sent (the intake's `on_json` reads it).
message_codec order_request_codec() {
  message_codec c = json::json_object_codec(type_tag<place_order>::value);
  c.from_json = [](std::string_view text) -> caf::expected<std::string> {
    auto v = json::parse(text);
    if (!v)
      return std::move(v.error());
    order_request r;
    if (auto err = json::from_value(*v, r, "payload"))
      return err;
    for (const auto* f : {&r.customer, &r.sku})
      if (f->empty())
        return make_error(errc::invalid_payload, std::string{"payload."}
                                                   + (f == &r.customer ? "customer" : "sku")
                                                   + ": must not be empty");
    if (r.region != "north" && r.region != "south" && r.region != "east" && r.region != "west")
      return make_error(errc::invalid_payload, "payload.region: '" + r.region
                                                 + "' is not one of north, south, east, west");
    if (r.quantity && *r.quantity == 0)
      return make_error(errc::invalid_payload, "payload.quantity: must be at least 1");
    return std::string{text};
  };
  return c;
}

template <class M>
kind_options with_accepts(kind_options k) {
  k.accepts = {json::codec_for<M>()};
  return k;
}

/// How operators see the demo's messages and events (journals, dead letters).
std::vector<message_codec> demo_codecs() {
  return {json::codec_for<reserve_stock>(),  json::codec_for<charge_payment>(),
          json::codec_for<dispatch_order>(), json::codec_for<notify_customer>(),
          json::codec_for<stage_done>(),     json::codec_for<hop_report>(),
          json::codec_for<order_repeated>(), json::codec_for<place_order>()};
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
  quick.events = demo_codecs();
  kind_options intake = quick;
  intake.accepts = {order_request_codec()};
  rt.register_kind(
    "order", [](std::string_view) { return std::make_unique<order_intake>(); }, intake);
  auto hop = [&](const char* stage) {
    kind_options k = quick;
    k.on_dead_letter = report_dead_letter(rt, stage);
    return k;
  };
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
    with_accepts<reserve_stock>(hop("inventory")));
  kind_options pay = with_accepts<charge_payment>(hop("payment"));
  pay.retry = opts.payment_retry;
  auto rate = opts.payment_failure_rate;
  rt.register_kind(
    "payment",
    [rate](std::string_view) {
      return std::make_unique<stage_worker<charge_payment, dispatch_order>>(
        "payment", "dispatch", [](const charge_payment& m) { return m.region; },
        [rate](context& ctx, const charge_payment& m, dispatch_order&,
               std::string& detail) -> caf::error {
          auto key = "charge/" + m.order_id;
          if (gateway_fails(key, ctx.message().attempt, rate))
            return make_error(errc::handler_failed, "payment gateway unavailable");
          detail = "charged " + std::to_string(m.amount_cents) + " cents, key " + key;
          return {};
        },
        true); // payment/<order id>: one charge per order
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
    with_accepts<dispatch_order>(hop("dispatch")));
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
    with_accepts<notify_customer>(hop("notify")));
}

} // namespace cairn::actors
