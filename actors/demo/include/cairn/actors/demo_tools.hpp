// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace cairn {
class runtime;
}

namespace cairn::mcp {
class server;
}

namespace cairn::actors {

/// Exposes the delivery demo's domain workers as MCP tools: `place_order`
/// (a durable command to `order/<id>`, sent atomically with the call's
/// outcome; the order id is the idempotency key of the whole chain) and
/// `order_status` (the order's status and every hop's outcome), plus `echo`.
/// Call before the server starts, from the thread that builds the node.
void register_demo_tools(mcp::server& srv, runtime& rt);

/// The delivery demo as tools for plans: `check_inventory`,
/// `reserve_stock`/`release_stock`, `charge_payment`/`refund_payment`,
/// `dispatch_driver`/`cancel_dispatch`, `notify_customer`, with risks, costs
/// and compensations in their contracts. Each effect is an entry in the
/// durable ledger `ledger/stock`, `ledger/payments`, `ledger/dispatch` or
/// `ledger/notify` (kind `ledger`), sent with the call's outcome: once per
/// call. `flaky_rate`: the chance that one charge attempt fails (and is
/// retried with the same idempotency key). Before the server starts.
void register_orchestration_demo(mcp::server& srv, runtime& rt, double flaky_rate);

/// The demo's policy rules (`policies`): charges of 50,000 cents or more
/// need an operator's approval; refunds are never a planned step.
const char* demo_policies_json();

/// The demo's workflow (`workflows`): `deliver_order`.
const char* demo_workflows_json();

} // namespace cairn::actors
