// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "cairn/http.hpp"

namespace cairn {

/// The web console: `GET /ui/` and its assets (HTML, CSS, JavaScript built
/// into the binary from runtime/api/console), every other request to
/// `next`. The assets hold no data and need no token; the pages read and
/// act through the node API with a bearer token the user enters, sent in
/// the `Authorization` header (no cookies: nothing for a cross-site request
/// to ride on). Every asset carries a Content-Security-Policy that allows
/// only the node's own scripts, styles and API.
http_handler route_console(http_handler next);

/// For a node on a loopback address: refuses (403 `invalid_host`) every
/// request whose `Host` is not `localhost`, `127.0.0.1` or `[::1]`, so a
/// page from a foreign origin cannot reach the node API or the console
/// through DNS rebinding. Requests without `Host` pass (not a browser);
/// `/mcp` passes (the MCP server checks `Host` itself).
http_handler refuse_foreign_hosts(http_handler next);

} // namespace cairn
