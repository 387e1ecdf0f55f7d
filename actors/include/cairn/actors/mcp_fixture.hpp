// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace cairn {
class runtime;
}

namespace cairn::mcp {
class server;
}

namespace cairn::actors {

/// Registers the tools, resources and prompts that the official MCP
/// conformance suite exercises (`cairn node --profile conformance`), through
/// the same public API as any other tool.
void register_conformance_fixture(mcp::server& srv);

/// Exposes the delivery demo's domain workers as MCP tools: `place_order`
/// (a durable command to `order/<id>`, sent atomically with the call's
/// outcome) and `order_status` (the order's journaled stages), plus `echo`.
void register_demo_tools(mcp::server& srv, runtime& rt);

} // namespace cairn::actors
