// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cairn/auth.hpp"
#include "cairn/http.hpp"

namespace cairn {

class runtime;

/// A bearer token of the node API: `read` allows the GET endpoints and
/// /metrics, `write` sending messages, `admin` redriving and discarding dead
/// letters (the one token model of auth.hpp).
using api_token = auth::token;

/// What the node API reports about the node itself, and who may use it.
struct node_api_options {
  std::string node_id = "local"; ///< the node's id in `/api/v1/status`
  std::string version = "0.1.0"; ///< the cairn version `/api/v1/status` reports
  std::string durability = "os"; ///< the durability mode reported (`os` or `fsync`)
  /// Empty: no authentication (only allowed on a loopback address). Else
  /// every request but /healthz and /readyz needs one of these tokens.
  std::vector<api_token> tokens;
  /// True while the node is starting (the API serves before recovery has
  /// finished): work refused then is `503 starting`, not `shutting_down`.
  /// Called from the HTTP I/O threads; empty: the node is never starting.
  std::function<bool()> starting;
  /// Shown by `/api/v1/status`: where the data lives (its size and the free
  /// space of its file system are measured there) and the node's address.
  std::string data_dir;
  std::function<std::string()> address; ///< the node's URL now (null in the status if unset)
  /// More Prometheus text for `/metrics` (what the node's HTTP server and
  /// MCP server hold); called from the HTTP I/O threads.
  std::function<std::string()> extra_metrics;
  /// `GET /api/v1/cluster`: this node's view of its cluster as JSON text
  /// (docs/cluster.md). Empty: a single node, answered 404 `not_clustered`.
  std::function<std::string()> cluster_status;
  /// `POST /api/v1/cluster/drain {"node": ID}` (scope admin): asks for the
  /// drain of a member; empty if taken, else why not (answered 404).
  std::function<std::string(const std::string& node_id)> cluster_drain;
  /// `POST /api/v1/cluster/forget {"node": ID}` (scope admin): gives a dead
  /// member's shards to the others, empty; empty if taken, else why not
  /// (answered 409).
  std::function<std::string(const std::string& node_id)> cluster_forget;
  /// `GET /api/v1/tools`: every MCP tool with its contract, as JSON text
  /// (`{"tools": [...]}`). Empty: the node serves no tools (404).
  std::function<std::string()> tools;
  /// `GET /api/v1/bench/{run}`: what the `bench` actors counted of a run of
  /// `cairn bench`, as JSON text, or "" for a run they never saw (404).
  /// Empty: the node has no bench workload (404).
  std::function<std::string(const std::string& run)> bench_report;
  /// Reads that may replay state or scan (actor lists and summaries, dead
  /// letters) run on this many threads of their own, never on an HTTP I/O
  /// thread; with every thread busy and `read_queue` more waiting, such a
  /// request gets 503 `busy` with `Retry-After`.
  size_t read_threads = 2;
  size_t read_queue = 32; ///< such reads that may wait for a thread before `busy`
};

/// The node's HTTP API over `rt`: `/healthz`, `/readyz`, `/metrics`
/// (Prometheus text) and the JSON API under `/api/v1` (status, messages,
/// journals, dead letters, timers). Errors are `application/problem+json`
/// (RFC 9457) with a stable `code`. `rt` must outlive the handler.
http_handler make_node_api(runtime& rt, node_api_options opts);

} // namespace cairn
