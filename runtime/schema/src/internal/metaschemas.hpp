// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

namespace cairn::schema::internal {

/// The official metaschemas of the supported dialects (2020-12 with its vocabulary metaschemas,
/// draft-07), built in so that `{"$ref": "https://json-schema.org/draft/2020-12/schema"}` resolves
/// without a registry or a network. Returns nullptr for any other URI. Thread-safe (parsed once,
/// on first use, then immutable).
const boost::json::value* builtin_document(std::string_view uri);

} // namespace cairn::schema::internal
