// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/actors/bench.hpp"
#include "commands/client_output.hpp"

// What `cairn bench` drives: a running node over HTTP, or a node of its
// own in this process (`--embedded`). Producers run on threads of their
// own, each with a `bench_producer` of its own.
namespace cairn::cli {

/// The workload `cairn bench` was asked for. A plain value.
struct bench_settings {
  uint64_t messages = 100'000; ///< messages to send (unless `duration_s` is set)
  double duration_s = 0;       ///< > 0: send for this long instead
  size_t size = 256;           ///< payload bytes per message
  size_t producers = 4;        ///< threads sending, each waiting for its answers
  uint32_t actors = 64;        ///< actors receiving (`bench/<run>-<i>`)
  uint32_t hops = 0;           ///< sends from actor to actor after the first delivery
  size_t batch = 1;            ///< messages per request (1: one message per request)
  std::string durability;      ///< os | fsync; "": the node's (HTTP) or os (embedded)
  bool embedded = false;       ///< a node in this process instead of --node
  std::string data;            ///< embedded: its data directory ("": a temporary one)
  size_t threads = 0;          ///< embedded: scheduler threads (0: the runtime's default)
  std::string scheduler;       ///< embedded: sharing or stealing (empty: the runtime's default)
  bool spans = true;           ///< embedded: record a span per step (false: what tracing costs)
  double drain_timeout_s = 60; ///< how long to wait for accepted messages to be handled
  bool quiet = false;          ///< no progress lines; embedded: the node logs warnings only
};

/// What became of the messages of one request.
struct bench_send_result {
  size_t accepted = 0;
  std::vector<size_t> busy; ///< positions refused for now (busy): to send again
  size_t refused = 0;       ///< refused for good
  std::string refusal;      ///< the first refusal's reason
  std::string failure;      ///< set: no answer (the transport failed); nothing is known
};

/// One producer's way to the node. Used by one thread.
class bench_producer {
public:
  virtual ~bench_producer() = default;
  virtual bench_send_result send(const std::vector<actors::bench_msg>& batch) = 0;
};

/// The node's own counters, read before and after a run.
struct bench_counters {
  double cpu_ms = 0; ///< CPU time of the node's process
  uint64_t commits = 0;
  uint64_t commit_requests = 0;
  /// In process only: CPU time by thread name (threads of one name added up).
  std::map<std::string, double> thread_cpu_ms;
  /// Mailbox rows read back from storage (windows that overflowed).
  uint64_t rows_read = 0;
  /// Bytes the node wrote to its log (`runtime_stats::log_bytes`).
  uint64_t log_bytes = 0;
};

class bench_target {
public:
  virtual ~bench_target() = default;
  virtual std::string where() const = 0;
  virtual std::string durability() const = 0;
  /// True when the node runs in this process (its CPU includes the producers').
  virtual bool in_process() const = 0;
  virtual std::unique_ptr<bench_producer> producer() = 0;
  /// What the node's bench actors counted of `run`: an empty report when
  /// they saw none of it yet; nullopt with `why` when it cannot be read.
  virtual std::optional<actors::bench_report> report(const std::string& run, std::string& why) = 0;
  virtual std::optional<bench_counters> counters(std::string& why) = 0;
};

/// A running node at `o.node`; nullptr with `why` (and `code`, an exit
/// code) when it cannot be reached or is not a node.
std::unique_ptr<bench_target> open_http_target(const client_options& o, std::string& why,
                                               int& code);

/// The counts `{"accepted":A,"refused":R,` that a batch answer of
/// `POST /api/v1/messages:batch` starts with, or nothing if it does not
/// start so (the bench then reads its results one by one).
std::optional<std::pair<size_t, size_t>> batch_answer_counts(std::string_view body);

/// A node of this process with the bench workload, its data in `s.data`
/// or a temporary directory it removes when destroyed.
std::unique_ptr<bench_target> open_embedded_target(const bench_settings& s, std::string& why);

/// The JSON text of `m`'s payload (what the HTTP API takes).
std::string bench_payload_json(const actors::bench_msg& m);
/// The same, added to the end of `out`.
void append_bench_payload_json(std::string& out, const actors::bench_msg& m);

/// The actor `m` goes to first: `bench/<run>-<seq mod actors>`.
std::string bench_actor_of(const actors::bench_msg& m);
/// The same, added to the end of `out`.
void append_bench_actor_of(std::string& out, const actors::bench_msg& m);

} // namespace cairn::cli
