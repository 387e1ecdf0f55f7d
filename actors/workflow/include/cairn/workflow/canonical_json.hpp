// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

// The bytes an approval's hash covers (docs/orchestration.md, "Approvals"): the same arguments
// always give the same bytes, whatever order their keys were written in.
// Plain values and pure functions: any thread may call them at any time.
namespace cairn::workflow {

/// Serializes `v` as RFC 8785 JSON Canonicalization Scheme (JCS) text: no whitespace, object
/// keys sorted by their UTF-16 code units (not by UTF-8 bytes: a key above U+FFFF sorts by its
/// surrogates, before U+E000..U+FFFF), strings escaped as ECMAScript's `JSON.stringify` does
/// (only `"`, `\` and controls below 0x20; `\b \f \n \r \t`, otherwise `\u00xx`; all else as
/// literal UTF-8), doubles in ECMAScript's shortest round-trip form (`4.5`, `1e+30`, `1e-7`,
/// `-0` as `0`). Integers held as int64/uint64 are written as their exact digits (JCS assumes
/// I-JSON, where integers beyond 2^53 do not occur; we keep them exact rather than round them).
/// Strings are expected to be valid UTF-8 (Boost.JSON's parser guarantees it); for sorting, an
/// invalid byte counts as U+FFFD and is copied as it is.
std::string canonical_json(const boost::json::value& v);

/// The SHA-256 (FIPS 180-4) of `bytes` as 64 lowercase hex digits. Our own implementation, so
/// the workflow library does not depend on OpenSSL.
std::string sha256_hex(std::string_view bytes);

/// `sha256_hex(canonical_json(arguments))`: the hash an approval request carries and a decision
/// must quote.
std::string arguments_sha256(const boost::json::object& arguments);

} // namespace cairn::workflow
