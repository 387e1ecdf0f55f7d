// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"

namespace cairn::actors {

/// An order as it travels through the delivery workflow:
/// `order` -> `inventory` -> `payment` -> `dispatch` -> `notify`.
struct order_msg {
  std::string order_id;      ///< the order's id: the key of `order/<id>`
  std::string customer;      ///< who ordered (a customer id such as `c1`)
  std::string sku;           ///< the item; the stock of `inventory/<sku>` is reserved
  std::string region;        ///< where to deliver: north, south, east or west
  uint32_t quantity = 1;     ///< how many of the item (0 is refused)
  uint64_t amount_cents = 0; ///< what payment charges, in cents
  std::string driver;        ///< filled in by dispatch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_msg& x) {
  return f(caf::meta::type_name("demo.order"), field{"order_id"}, x.order_id, field{"customer"},
           x.customer, field{"sku"}, x.sku, field{"region"}, x.region, field{"quantity"},
           x.quantity, field{"amount_cents"}, x.amount_cents, field{"driver"}, x.driver);
}

/// Message tags: one per workflow stage, so each worker's interface is explicit.
struct place_order : order_msg {};
struct reserve_stock : order_msg {};
struct charge_payment : order_msg {};
struct dispatch_order : order_msg {};
struct notify_customer : order_msg {};

/// The journaled fact each stage records.
struct stage_done {
  std::string order_id; ///< the order the stage worked on
  std::string stage;    ///< the stage: inventory, payment, dispatch or notify
  std::string detail;   ///< what it did, in words
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_done& x) {
  return f(caf::meta::type_name("demo.stage_done"), field{"order_id"}, x.order_id, field{"stage"},
           x.stage, field{"detail"}, x.detail);
}

/// What one hop did for an order, sent back to the order (`order/<id>`) and
/// journaled there, so the order's state shows every hop's outcome. `status`
/// is `ok` or `failed` (the hop's message was dead-lettered: `attempts` is
/// how many attempts it had and `detail` the last error).
struct hop_report {
  std::string order_id;  ///< the order it reports on
  std::string stage;     ///< intake, inventory, payment, dispatch or notify
  std::string status;    ///< `ok` or `failed`
  std::string detail;    ///< what the hop did, or its last error
  uint32_t attempts = 1; ///< attempts the hop's message had, this one included
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hop_report& x) {
  return f(caf::meta::type_name("demo.hop_report"), field{"order_id"}, x.order_id, field{"stage"},
           x.stage, field{"status"}, x.status, field{"detail"}, x.detail, field{"attempts"},
           x.attempts);
}

/// Journaled when a message for an order that was already handled arrives
/// again (a second `place_order` with the same order id, say): it is ignored.
struct order_repeated {
  std::string envelope_id; ///< the ignored message
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_repeated& x) {
  return f(caf::meta::type_name("demo.order_repeated"), field{"envelope_id"}, x.envelope_id);
}

#define CAIRN_DEMO_INSPECT(T)                                                                      \
  template <class Inspector>                                                                       \
  typename Inspector::result_type inspect(Inspector& f, T& x) {                                    \
    return inspect(f, static_cast<order_msg&>(x));                                                 \
  }
CAIRN_DEMO_INSPECT(place_order)
CAIRN_DEMO_INSPECT(reserve_stock)
CAIRN_DEMO_INSPECT(charge_payment)
CAIRN_DEMO_INSPECT(dispatch_order)
CAIRN_DEMO_INSPECT(notify_customer)
#undef CAIRN_DEMO_INSPECT

/// Settings of the delivery demo.
struct delivery_options {
  double payment_failure_rate = 0.2; ///< chance that one payment attempt fails
  /// Retries of `payment` (4 attempts, 50 ms doubling up to 2 s, full jitter).
  retry_policy payment_retry{4, std::chrono::milliseconds{50}, 2.0,
                             std::chrono::milliseconds{2'000}, true};
};

/// Registers the five delivery workers (kinds `order`, `inventory`,
/// `payment`, `dispatch`, `notify`) on `rt`. Call before `rt.start()`.
///
/// The order id is the idempotency key of the whole chain: `order/<id>`
/// journals that it was placed and ignores (journals as `order_repeated`)
/// every later `place_order` for it, so nothing downstream happens twice;
/// `payment/<id>` charges with the key `charge/<id>` and never charges an
/// order twice. Each hop reports its outcome to `order/<id>` (`hop_report`),
/// a dead-lettered hop message too, so the order's state lists every hop.
void register_delivery_demo(runtime& rt, const delivery_options& opts);

/// Builds the `place_order` message for order number `n`.
place_order make_demo_order(uint64_t n);

} // namespace cairn::actors

CAIRN_MESSAGE_TYPE(cairn::actors::place_order, "demo.place_order/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::reserve_stock, "demo.reserve_stock/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::charge_payment, "demo.charge_payment/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::dispatch_order, "demo.dispatch_order/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::notify_customer, "demo.notify_customer/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::stage_done, "demo.stage_done/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::hop_report, "demo.hop_report/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::order_repeated, "demo.order_repeated/v1");
