// SPDX-License-Identifier: Apache-2.0
// The signed `requestState` of 2026-07-28 multi-round requests and the
// encodings it is built from. Not a public header; the sealing itself is
// `server::impl::seal` / `unseal` (it needs the server's secret).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cairn/text_codec.hpp"

namespace cairn::mcp {

/// HMAC-SHA1 of `msg` under `key`, as 40 hex digits.
std::string hmac_hex(std::string_view key, std::string_view msg);

// The node's one base64 (RFC 4648, padded, strict decoding): text_codec.hpp.
using cairn::base64_decode;
using cairn::base64_encode;

} // namespace cairn::mcp
