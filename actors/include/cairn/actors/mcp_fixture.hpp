// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace cairn::mcp {
class server;
}

namespace cairn::actors {

/// Registers the tools, resources and prompts that the official MCP
/// conformance suite exercises (`cairn node --profile conformance`), through
/// the same public API as any other tool.
void register_conformance_fixture(mcp::server& srv);

} // namespace cairn::actors
