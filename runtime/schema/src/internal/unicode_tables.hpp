// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace cairn::schema::internal {

/// An inclusive range of code points.
struct code_range {
  char32_t first;
  char32_t last;
};

/// The code points of a Unicode general category named in `\p{...}` (`L`, `Letter`, `Lu`, `Ll`,
/// `N`, `Nd`, `digit`, `P`, `Z`, `Zs` and their long names), sorted; nullopt for other names.
std::optional<std::span<const code_range>> unicode_property(std::string_view name);

} // namespace cairn::schema::internal
