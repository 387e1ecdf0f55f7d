// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "cairn/http.hpp"

namespace cairn {

class runtime;

/// What the node API reports about the node itself.
struct node_api_options {
  std::string node_id = "local";
  std::string version = "0.1.0";
  std::string durability = "os";
};

/// The node's HTTP API over `rt`: `/healthz`, `/readyz`, `/metrics`
/// (Prometheus text) and the JSON API under `/api/v1` (status, messages,
/// journals, dead letters, timers). Errors are `application/problem+json`
/// (RFC 9457) with a stable `code`. `rt` must outlive the handler.
http_handler make_node_api(runtime& rt, node_api_options opts);

} // namespace cairn
