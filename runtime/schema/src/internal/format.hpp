// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::schema::internal {

/// Checks one string against a `format`.
using format_checker = bool (*)(std::string_view);

/// The checker for a format name (date-time, email, ipv4, uri, regex, ...), or nullptr for a
/// format this library does not know (such formats are not asserted, as the specification says).
format_checker find_format(std::string_view name);

/// RFC 4648 base64 decoding; nullopt when `text` is not base64.
std::optional<std::string> decode_base64(std::string_view text);

/// True when `text` is one JSON document.
bool is_json_text(std::string_view text);

} // namespace cairn::schema::internal
