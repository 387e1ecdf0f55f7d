// SPDX-License-Identifier: Apache-2.0
// The signed `requestState` of 2026-07-28 multi-round requests and the
// encodings it is built from. Not a public header; the sealing itself is
// `server::impl::seal` / `unseal` (it needs the server's secret).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::mcp {

/// HMAC-SHA1 of `msg` under `key`, as 40 hex digits.
std::string hmac_hex(std::string_view key, std::string_view msg);

/// Base64 (RFC 4648, padded).
std::string base64_encode(std::string_view in);

/// Strict base64 (RFC 4648, padded); nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view in);

} // namespace cairn::mcp
