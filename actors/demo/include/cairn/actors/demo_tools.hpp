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

} // namespace cairn::actors
