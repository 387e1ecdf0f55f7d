// SPDX-License-Identifier: Apache-2.0
#include "internal/plan_graph.hpp"

#include <algorithm>
#include <functional>

namespace cairn::workflow::internal {

std::vector<std::vector<std::size_t>> find_cycles(const plan_graph& g) {
  auto n = g.deps.size();
  // Kahn's algorithm on the `after` edges; what it cannot remove lies on or behind a cycle.
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> dependents(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = g.deps[i].size();
    for (auto d : g.deps[i])
      dependents[d].push_back(i);
  }
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (waiting[i] == 0)
      ready.push_back(i);
  std::vector<bool> removed(n, false);
  while (!ready.empty()) {
    auto i = ready.back();
    ready.pop_back();
    removed[i] = true;
    for (auto s : dependents[i])
      if (--waiting[s] == 0)
        ready.push_back(s);
  }
  // Every step left waits for at least one other step left: walking such dependencies from any
  // of them must come back to a step already on the walk.
  std::vector<std::vector<std::size_t>> cycles;
  std::vector<int> seen(n, -1); // walk number that visited the step
  int walk = 0;
  for (std::size_t start = 0; start < n; ++start, ++walk) {
    if (removed[start] || seen[start] != -1)
      continue;
    std::vector<std::size_t> path;
    auto at = start;
    while (seen[at] == -1) {
      seen[at] = walk;
      path.push_back(at);
      auto next = std::find_if(g.deps[at].begin(), g.deps[at].end(),
                               [&](std::size_t d) { return !removed[d]; });
      at = *next; // exists: `at` was not removed
    }
    if (seen[at] != walk)
      continue; // ran into a cycle reported by an earlier walk
    auto from = std::find(path.begin(), path.end(), at);
    // path follows "waits for" edges; execution order is the reverse.
    std::vector<std::size_t> cycle(from, path.end());
    std::reverse(cycle.begin(), cycle.end());
    cycle.push_back(cycle.front());
    cycles.push_back(std::move(cycle));
  }
  return cycles;
}

std::vector<std::vector<bool>> ancestors(const plan_graph& g) {
  auto n = g.deps.size();
  std::vector<std::vector<bool>> out(n, std::vector<bool>(n, false));
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::size_t> stack(g.deps[i].begin(), g.deps[i].end());
    while (!stack.empty()) {
      auto d = stack.back();
      stack.pop_back();
      if (out[i][d])
        continue;
      out[i][d] = true;
      stack.insert(stack.end(), g.deps[d].begin(), g.deps[d].end());
    }
  }
  return out;
}

std::size_t depth(const plan_graph& g) {
  auto n = g.deps.size();
  std::vector<std::size_t> memo(n, 0);
  // Iterative post-order, so a long chain cannot exhaust the stack.
  std::size_t best = 0;
  for (std::size_t root = 0; root < n; ++root) {
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      if (memo[i] != 0) {
        stack.pop_back();
        continue;
      }
      if (next < g.deps[i].size()) {
        auto d = g.deps[i][next++];
        if (memo[d] == 0)
          stack.push_back({d, 0});
        continue;
      }
      std::size_t longest = 0;
      for (auto d : g.deps[i])
        longest = std::max(longest, memo[d]);
      memo[i] = longest + 1;
      stack.pop_back();
    }
    best = std::max(best, memo[root]);
  }
  return best;
}

std::size_t width(const std::vector<std::vector<bool>>& anc) {
  auto n = anc.size();
  // Bipartite graph: left u -> right v when u must finish before v (u is an ancestor of v).
  std::vector<std::size_t> match_right(n, n); // right v -> its left partner, n: none
  std::size_t matched = 0;
  for (std::size_t u = 0; u < n; ++u) {
    std::vector<bool> visited(n, false);
    std::function<bool(std::size_t)> augment = [&](std::size_t left) {
      for (std::size_t v = 0; v < n; ++v) {
        if (!anc[v][left] || visited[v])
          continue;
        visited[v] = true;
        if (match_right[v] == n || augment(match_right[v])) {
          match_right[v] = left;
          return true;
        }
      }
      return false;
    };
    if (augment(u))
      ++matched;
  }
  return n - matched;
}

} // namespace cairn::workflow::internal
