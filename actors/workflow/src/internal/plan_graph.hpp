// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <vector>

// The `after` graph of a plan: nodes are step positions, an edge dep -> step for each `after`
// entry that names a known step. Plain values and pure functions.
namespace cairn::workflow::internal {

struct plan_graph {
  /// deps[i]: the steps step i waits for (positions).
  std::vector<std::vector<std::size_t>> deps;
};

/// Every cycle found, each as positions in execution order, the first repeated at the end
/// (`a -> b -> a`: b waits for a, a waits for b). Empty for an acyclic graph. Each step is
/// named in at most one reported cycle.
std::vector<std::vector<std::size_t>> find_cycles(const plan_graph& g);

/// ancestors[i][j]: step j is a direct or indirect dependency of step i. Works on cyclic
/// graphs too.
std::vector<std::vector<bool>> ancestors(const plan_graph& g);

/// Steps on the longest chain. Precondition: acyclic.
std::size_t depth(const plan_graph& g);

/// The largest set of steps no two of which are ordered by `after` (all may run at once): the
/// size of the maximum antichain, n minus a maximum matching on the transitive closure
/// (Dilworth, Fulkerson). O(n^3); the caller bounds n. Precondition: acyclic.
std::size_t width(const std::vector<std::vector<bool>>& ancestors);

} // namespace cairn::workflow::internal
