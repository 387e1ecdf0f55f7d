// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::schema::internal {

/// True when `uri` starts with a scheme (`http:`, `urn:`, `file:` ...).
bool is_absolute_uri(std::string_view uri);

/// RFC 3986 section 5.2 reference resolution of `ref` against the absolute URI `base`.
std::string resolve_uri(std::string_view base, std::string_view ref);

/// Splits at the first `#`: (URI without fragment, fragment without `#`).
std::pair<std::string, std::string> split_fragment(std::string_view uri);

/// Decodes `%XX` escapes; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

/// `~` -> `~0`, `/` -> `~1`.
std::string escape_pointer_token(std::string_view token);

/// Splits a JSON pointer (`""` or `/a/b~1c`) into unescaped tokens; nullopt when malformed.
std::optional<std::vector<std::string>> parse_pointer(std::string_view pointer);

} // namespace cairn::schema::internal
