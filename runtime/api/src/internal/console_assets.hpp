// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <span>
#include <string_view>

namespace cairn::console {

/// One file of the console, built into the binary.
struct asset {
  std::string_view name; ///< path under /ui/, e.g. "app.js"
  std::string_view content_type;
  std::string_view body;
};

/// Every asset (generated at build time from runtime/api/console).
std::span<const asset> assets();

} // namespace cairn::console
