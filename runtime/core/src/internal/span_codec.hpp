// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "cairn/runtime.hpp"

namespace cairn::internal {

/// The first byte of a span value in layout 5. A CAF-serialized span of
/// an older layout starts with its trace id's length (32), never this.
inline constexpr uint8_t span_format = 0xC5;

/// Appends the value of `s`'s `trace` row (docs/observability.md, "Span
/// model"): the format byte, flags, kind, status, start and duration as
/// varints, hex ids packed to bytes, strings with varint lengths, and only
/// the parts a span has. Its trace and span ids are in the row's key.
void encode_span(std::string& out, const span_record& s);

/// A span from its `trace` key (`keys::span`) and value.
caf::expected<span_record> decode_span(std::string_view key, std::string_view value);

} // namespace cairn::internal
