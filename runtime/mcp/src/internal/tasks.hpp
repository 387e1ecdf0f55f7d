// SPDX-License-Identifier: Apache-2.0
// The shapes of a task in both revisions, shared by tools/call (which
// creates tasks) and the tasks/* methods. Not a public header.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json.hpp>

namespace cairn::mcp {

inline constexpr const char* tasks_ext = "io.modelcontextprotocol/tasks";

/// The client declared the 2026-07-28 tasks extension.
bool has_tasks_extension(const boost::json::object& caps);

/// The error data of a request that needs the tasks extension.
boost::json::object tasks_required_data();

/// The 2025-11-25 shape of a task (`ttl`, `pollInterval`).
boost::json::object session_task(boost::json::object fields);

/// The 2026-07-28 fields of task `id` in `status`.
boost::json::object task_fields(const std::string& id, const char* status, int64_t updated_ms);

} // namespace cairn::mcp
