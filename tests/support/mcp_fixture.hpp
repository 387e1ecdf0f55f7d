// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace cairn::mcp {
class server;
}

namespace cairn::test {

/// Registers the tools, resources and prompts that the official MCP
/// conformance suite exercises (`cairn-test-node node --profile conformance`),
/// through the same public API as any other tool. Test-only: the production
/// binary does not contain it.
void register_conformance_fixture(mcp::server& srv);

} // namespace cairn::test
