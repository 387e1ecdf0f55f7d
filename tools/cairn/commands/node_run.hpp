// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "commands/node_settings.hpp"

namespace cairn {
class runtime;
struct runtime_stats;
struct runtime_options;
struct node_api_options;
namespace cluster {
class cluster_node;
}
namespace workflow {
class engine;
}
namespace mcp {
class server;
}
} // namespace cairn

// The pieces of a running node that `cairn node` and `cairn mcp stdio`
// share. All of it runs on the command's main thread unless said otherwise.
namespace cairn::cli {

/// Runs a node with `ns` until SIGINT/SIGTERM (or, with `ns.stdio`, until
/// stdin closes); returns the exit code.
int run_node(const node_settings& ns);

/// Sets the default logger: text or JSON lines on stderr, at `ns.log_level`.
void install_logger(const node_settings& ns);

/// Prints one progress line: rates since the previous one, then gauges.
/// Main thread only.
class progress_line {
public:
  explicit progress_line(const runtime_stats& s);
  ~progress_line();
  void print(const runtime_stats& s);

private:
  struct state;
  std::unique_ptr<state> state_;
};

/// Reads one JSON-RPC message a line from stdin on a detached thread and
/// hands each to `srv`; answers go to stdout. Clears `stdin_open` when the
/// client closes stdin. `srv` and `stdin_open` must outlive the process's
/// main loop (they live in `run_node`, which ends the process).
void serve_stdio(mcp::server& srv, std::atomic<bool>& stdin_open);

/// The cluster member `ns` asks for (none without `cluster_etcd`), with its
/// placement, forwarding and admission seams put into `opts`.
std::unique_ptr<cluster::cluster_node> cluster_member(const node_settings& ns,
                                                      runtime_options& opts);
/// `GET /api/v1/cluster` and the drain and forget endpoints, answered by `member`.
void wire_cluster_api(cluster::cluster_node& member, node_api_options& api);

/// Starts the chain workload (`--workload chain`); "" or why not.
std::string start_chain_workload(runtime& rt, const node_settings& ns);

/// Places demo orders at `rate` per second on its own thread, backing off
/// while the node is busy, until `stop()` (or destruction). Construct,
/// stop and destroy it from one thread (the command's main thread).
/// The demo's agent: every `period` it submits a `deliver_order`-shaped plan
/// to `orchestrator` (now and then one with a big charge, which waits for an
/// operator, and one to a region no driver serves, which is compensated),
/// and prints a line when one of its plans waits for approval (with the
/// command that approves it) or ends. Until `stop()` (or destruction).
class demo_planner {
public:
  demo_planner(workflow::engine& orchestrator, std::FILE* out, std::chrono::milliseconds period);
  ~demo_planner();
  demo_planner(const demo_planner&) = delete;
  demo_planner& operator=(const demo_planner&) = delete;
  void stop();

private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

class demo_producer {
public:
  demo_producer(runtime& rt, double rate);
  ~demo_producer();
  demo_producer(const demo_producer&) = delete;
  demo_producer& operator=(const demo_producer&) = delete;
  void stop();

private:
  std::atomic<bool> producing_{true};
  std::thread thread_;
};

} // namespace cairn::cli
