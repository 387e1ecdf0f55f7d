// SPDX-License-Identifier: Apache-2.0
// The chain workload on a local cluster, for the cluster's crash and move
// tests: starting chains through a node's API, watching the work done, and
// checking every hop's journal in the data directories afterwards.
#pragma once

#include <cstdint>
#include <string>

#include "local_cluster.hpp"

namespace cairn::test {

/// Starts chain `chain` (source -> hop_a -> hop_b -> hop_c) with `per_chain`
/// items through node `via`'s API (retrying 429 and 503).
void start_chain(local_cluster& c, size_t via, uint32_t chain, uint64_t per_chain);
/// A metric summed over the running nodes (each counts since it started).
int64_t metric_sum(local_cluster& c, const std::string& name);
/// Steps committed by the running nodes since each started.
int64_t processed(local_cluster& c);
/// Every chain's hop_c journal is complete, on whichever node owns it.
bool finished(local_cluster& c, uint32_t chains, uint64_t per_chain);
/// Where every chain actor stands, for a failure's message.
std::string progress_report(local_cluster& c, uint32_t chains);
/// No running node has a row in its outbox toward any peer.
bool outboxes_empty(local_cluster& c);
/// Reads every data directory (the nodes are stopped): each hop's journal
/// lives on one node and holds items 0..per_chain-1 in order; no outbox,
/// mailbox or dead-letter row is left anywhere. Catch checks.
void check_data(local_cluster& c, uint32_t chains, uint64_t per_chain);

} // namespace cairn::test
