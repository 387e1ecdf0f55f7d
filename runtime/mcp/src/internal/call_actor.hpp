// SPDX-License-Identifier: Apache-2.0
// The durable actor of one tool call: its message and event types. Not a
// public header.
#pragma once

#include <cstdint>
#include <string>

namespace cairn::mcp {

inline constexpr const char* call_type = "mcp.call/v1";
inline constexpr const char* cancel_type = "mcp.cancel/v1";
inline constexpr const char* finished_type = "mcp.call.finished/v1";
inline constexpr const char* input_type = "mcp.input/v1";            // tasks/update's answers
inline constexpr const char* input_event_type = "mcp.call.input/v1"; // waiting for answers
inline constexpr const char* answers_type = "mcp.call.answers/v1";   // some answers arrived

/// Wall-clock milliseconds since the epoch.
int64_t wall_ms();

/// A time-ordered id with 120 unpredictable bits (task ids are capabilities:
/// they must not be guessable). Any thread.
std::string new_call_id();

} // namespace cairn::mcp
