// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>

// How plans and approvals print for people (`cairn plan ...`, `cairn
// approvals ...`). Main thread.
namespace cairn::cli {

/// A plan: one header line (id, state, risk, cost), then a row per step
/// (id, tool, state, risk, verdict, attempts and what happened).
void print_plan(const boost::json::value& plan);

/// The problems of a rejected plan (a 422 `plan_invalid` answer), one a line:
/// `PATH [STEP]: CODE: MESSAGE`.
void print_problems(const boost::json::value& answer);

/// One approval: what would run, with which arguments and their SHA-256,
/// who may decide and until when, and how to decide.
void print_approval(const boost::json::value& approval);

} // namespace cairn::cli
