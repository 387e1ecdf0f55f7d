// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

// The text encodings the node's HTTP services share: one base64, one
// percent-decoder, one constant-time comparison. Plain functions of their
// arguments: any thread may call them at any time.
namespace cairn {

/// Encodes `bytes` as base64 (RFC 4648 §4, with `=` padding).
std::string base64_encode(std::string_view bytes);

/// Decodes padded base64 (RFC 4648 §4); nothing if `text` is not strictly
/// that (wrong length, a character outside the alphabet, misplaced `=`).
std::optional<std::string> base64_decode(std::string_view text);

/// Decodes `%XX` escapes as RFC 3986 defines them for paths and query
/// strings: `+` stays a `+`. Nothing for a malformed escape (`%`, `%z1`).
std::optional<std::string> percent_decode(std::string_view text);

/// Decodes an `application/x-www-form-urlencoded` name or value (WHATWG
/// URL): like `percent_decode`, but `+` is a space. Only for real HTML form
/// bodies; URLs use `percent_decode`.
std::optional<std::string> form_decode(std::string_view text);

/// Percent-encodes every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`), so the result is one path segment or one query
/// value (`order/o1` -> `order%2Fo1`).
std::string percent_encode(std::string_view text);

/// True if `secret` and `presented` are equal, in a time that depends only
/// on the length of `secret` (the value the node holds), never on where the
/// first difference is; for bearer tokens and signatures.
bool constant_time_equal(std::string_view secret, std::string_view presented);

} // namespace cairn
