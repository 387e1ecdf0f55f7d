// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "cairn/runtime.hpp"

// Spans exported over OTLP/HTTP with JSON encoding (docs/observability.md,
// "Export"). The exporter follows the `trace` column family in the order
// spans ended, from a cursor it keeps in `meta`: the spans already on disk
// are its queue, so a step never waits for it and a restart resumes where
// the last acknowledged batch ended.
namespace cairn {

/// Where and how spans are exported. A plain value.
struct otlp_options {
  /// `http://host:port` (then `/v1/traces` is added) or a full URL with a
  /// path. Plain HTTP only.
  std::string endpoint;
  std::vector<std::pair<std::string, std::string>> headers; ///< sent with every request
  size_t batch = 512;                                       ///< spans per request at most
  /// Spans waiting to be exported at most: past it the oldest are skipped
  /// and counted as dropped (an endpoint down for long does not make the
  /// exporter read the whole retention window).
  size_t queue = 65'536;
  std::chrono::milliseconds interval{1000}; ///< how often it looks for new spans
  /// Spans that ended less than this ago wait: a step's span is keyed by
  /// when it ended, which may be a little before its commit is readable.
  std::chrono::milliseconds settle{2000};
  std::chrono::milliseconds timeout{10'000}; ///< per request
  std::string service_instance;              ///< `service.instance.id` (the node)
  std::string version;                       ///< `service.version`
};

/// `endpoint` split into host, port and target; "" or why it is not usable.
std::string parse_otlp_endpoint(const std::string& endpoint, std::string& host, std::string& port,
                                std::string& target);

/// The `ExportTraceServiceRequest` for `spans` as OTLP/JSON: ids as hex,
/// times as decimal strings of nanoseconds, enums as numbers; a step's span
/// gets its messaging and cairn attributes (docs/observability.md).
std::string otlp_json(const std::vector<span_record>& spans, const otlp_options& opts);

/// Exports the spans of `rt` on a thread of its own until destroyed.
class otlp_exporter {
public:
  /// Starts exporting; `invalid_argument` for an unusable endpoint.
  static caf::expected<std::unique_ptr<otlp_exporter>> start(runtime& rt, otlp_options opts);
  ~otlp_exporter();
  otlp_exporter(const otlp_exporter&) = delete;
  otlp_exporter& operator=(const otlp_exporter&) = delete;

  /// What the exporter has done since it started, and what waits now.
  struct counters {
    uint64_t exported = 0; ///< spans the endpoint accepted
    uint64_t dropped = 0;  ///< spans skipped because the queue was full
    uint64_t rejected = 0; ///< spans the endpoint refused (a 4xx, or partialSuccess)
    uint64_t failures = 0; ///< requests that failed and were tried again
    uint64_t queued = 0;   ///< spans waiting now (up to twice `queue`: counted no further)
  };
  /// The counters now (any thread).
  counters stats() const;

  /// The counters in Prometheus text format.
  std::string metrics_text() const;

  struct impl;

private:
  explicit otlp_exporter(std::unique_ptr<impl> d);
  std::unique_ptr<impl> impl_;
};

} // namespace cairn
