// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include <caf/error.hpp>

#include "cairn/storage.hpp"

namespace cairn::internal {

/// Brings a data directory written with layout `found` (the `meta` row) up
/// to `layout_version`, one step at a time, each step in one atomic write
/// that also records the new version. Column families a step adds already
/// exist (the store opens every family this build knows). Refuses versions
/// it has no path from (newer builds, garbage) with `unknown_layout`.
/// Called once at open, before anything else reads the store.
caf::error migrate_layout(storage& store, const std::string& dir, const std::string& found);

} // namespace cairn::internal
