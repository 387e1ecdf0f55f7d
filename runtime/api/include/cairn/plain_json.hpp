// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

namespace cairn {

/// Serializes `v` as JSON with every number written plainly: integers as
/// digits and doubles in fixed notation, the shortest text that reads back
/// as the same double (`35.492`, `0.00001`, never `3.5492E1`); NaN and
/// infinities, which JSON cannot hold, become `null`. Why not
/// `boost::json::serialize`: Boost.JSON 1.81 writes every double in exponent
/// form (`2E2`), which people and some clients read badly. Any thread.
std::string serialize_plain(const boost::json::value& v);

/// Appends `s` to `out` as a JSON string: quoted, with `"`, `\` and control
/// characters escaped (other bytes as they are: `s` is UTF-8). For answers
/// written as text rather than built as a tree. Any thread.
void append_json_string(std::string& out, std::string_view s);

} // namespace cairn
