// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "commands/client_output.hpp"

// What the dead-letter commands share: the node API's filters and the bulk
// form of redrive and discard. Commands run on the main thread.
namespace cairn::cli {

/// The dead-letter filters of `GET /api/v1/dead-letters`, as given on the
/// command line. A plain value.
struct dlq_filter {
  std::string kind;
  std::string error;
  std::string since; ///< as typed: milliseconds, ISO-8601 UTC or an age (`15m`)
  std::string until;
};

/// Adds --kind, --error, --since and --until to `cmd`.
void add_dlq_filter_options(CLI::App* cmd, dlq_filter& f);

/// The filter as query parameters (`kind=...&since=...`, "" for none); on a
/// time the command line cannot read, false with `why` set.
bool dlq_query(const dlq_filter& f, std::string& query, std::string& why);

/// What a bulk redrive or discard does to each dead letter.
enum class dlq_action { redrive, discard };

/// The single (`ID`) and bulk (`--all [filters] --yes`) forms of redrive and
/// discard, added to `cmd` with their callback.
void add_dlq_action(CLI::App* cmd, dlq_action action, int& exit_code);

} // namespace cairn::cli
