// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

// `cairn mcp stdio --node URL`: stdio bridged to a running node's /mcp.
namespace cairn::cli {

/// Where the bridge connects. A plain value.
struct mcp_bridge_options {
  std::string node;  ///< http://HOST[:PORT] (a trailing /mcp is allowed)
  std::string token; ///< bearer secret, or ""
};

/// Reads newline-delimited JSON-RPC from stdin and POSTs each message to
/// the node's Streamable HTTP endpoint, writing every message the node sends
/// back (JSON answers, SSE events, the session's GET stream) to stdout, one
/// a line. Returns the exit code when stdin closes: 0, or 2 for a bad URL.
/// Runs on the main thread; it starts and joins its own threads.
int run_mcp_bridge(const mcp_bridge_options& opts);

} // namespace cairn::cli
