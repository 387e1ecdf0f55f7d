// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>

namespace cairn::cli {

/// Adds `cairn node` to `app`; the callback sets `exit_code`.
void add_node_run(CLI::App& app, int& exit_code);

} // namespace cairn::cli
