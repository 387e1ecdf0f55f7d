// SPDX-License-Identifier: Apache-2.0
// The rules that differ between protocol revisions, for the transports:
// 2025-11-25 (and the older session revisions) and 2026-07-28. Not a
// public header.
#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace cairn::mcp {

/// A revision with sessions this server negotiates (2025-11-25 and older).
bool known_session_revision(std::string_view v);

/// 2026-07-28: the revision a stateless request names in `_meta`, or "".
std::string meta_revision(const boost::json::object& params);

/// 2026-07-28: the client capabilities a stateless request carries in `_meta`.
boost::json::object meta_capabilities(const boost::json::object& params);

/// 2026-07-28: the HTTP status of an error response with JSON-RPC `code`.
unsigned http_status_of(int code);

} // namespace cairn::mcp
