// SPDX-License-Identifier: Apache-2.0
// `cairn-test-node`: the cairn binary plus the test-only `conformance`
// profile (the MCP conformance suite's fixture), for the MCP test scripts.
// The production binary is built from the same commands without it.
#include "commands/commands.hpp"
#include "mcp_fixture.hpp"

int main(int argc, char** argv) {
  cairn::cli::add_profile(
    "conformance",
    {"also serve the MCP conformance suite's fixture (tests only)",
     [](cairn::mcp::server& srv) { cairn::test::register_conformance_fixture(srv); }});
  return cairn::cli::run(argc, argv);
}
