// SPDX-License-Identifier: Apache-2.0
#pragma once
// The execution layer's counters, gauges and histograms (`runtime::stats`).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cairn {

/// Totals of one actor kind.
struct kind_stats {
  uint64_t accepted = 0;      ///< messages accepted from outside (duplicates excluded)
  uint64_t processed = 0;     ///< steps committed
  uint64_t failed = 0;        ///< handler failures (each attempt)
  uint64_t retried = 0;       ///< failures scheduled for another attempt
  uint64_t dead_lettered = 0; ///< messages moved to dead letters
};

/// A cumulative histogram: `counts[i]` observations <= `bounds[i]`, plus all.
struct histogram {
  std::vector<double> bounds;   ///< bucket upper bounds, ascending
  std::vector<uint64_t> counts; ///< cumulative, one per bound
  uint64_t count = 0;           ///< all observations (the implicit +Inf bucket)
  double sum = 0;               ///< sum of all observed values
};

/// The commit coordinator's histograms.
struct commit_histograms {
  histogram batch_size;      ///< commit requests per storage write
  histogram latency_seconds; ///< time of one storage write (with its fsync)
};

/// Counters since start (totals) and gauges (now).
struct runtime_stats {
  uint64_t accepted = 0;      ///< envelopes accepted from outside (deduplicated ones excluded)
  uint64_t duplicates = 0;    ///< accepts answered from the dedupe store
  uint64_t busy = 0;          ///< accepts refused with `busy`
  uint64_t processed = 0;     ///< steps committed
  uint64_t failed = 0;        ///< handler failures (each attempt)
  uint64_t retried = 0;       ///< failures scheduled for another attempt
  uint64_t dead_lettered = 0; ///< envelopes moved to dead letters
  uint64_t sent = 0;          ///< envelopes enqueued by steps, timers and topics
  uint64_t commits = 0;       ///< RocksDB writes by the commit coordinator
  uint64_t commit_ops = 0;    ///< commit requests in those writes
  /// Bytes those writes (and any other of this node's) put in the log:
  /// `storage::bytes_written` since the open.
  uint64_t log_bytes = 0;
  /// Accepted rows whose step came in the write that accepted them: never
  /// put in the mailbox or deleted from it (staged accepts).
  uint64_t rows_unwritten = 0;
  /// Staged rows whose step was not back when their stage was written:
  /// carried to the next write, their senders answered after it.
  uint64_t rows_carried = 0;
  /// The CPU the commit thread is bound to (runtime_options::commit_cpu), -1: none.
  int64_t commit_cpu = -1;
  /// Mailbox rows read from storage into activations: at their start, or
  /// after more arrived than their window holds (`activation_queue`).
  uint64_t mailbox_rows_read = 0;
  uint64_t pending = 0;         ///< gauge: envelopes in mailboxes
  uint64_t active = 0;          ///< gauge: activations in memory
  uint64_t activations = 0;     ///< activations started
  uint64_t passivations = 0;    ///< activations passivated
  uint64_t memory_returns = 0;  ///< times freed pages went back to the OS (after passivation waves)
  uint64_t timers = 0;          ///< gauge: durable timers not yet fired
  uint64_t dead_letters = 0;    ///< gauge: dead letters stored (kept across restarts)
  uint64_t expired = 0;         ///< dedupe rows and spans deleted after their retention
  uint64_t journal_pruned = 0;  ///< journal events deleted under their kind's retention
  uint64_t spans_indexed = 0;   ///< spans the trace index took (since start)
  uint64_t stopped_actors = 0;  ///< gauge: actors stopped because their state cannot be rebuilt
  bool storage_writable = true; ///< gauge: storage takes writes (false: disk full, ...)
  std::string storage_unwritable_reason;     ///< why not, while not writable
  uint64_t storage_write_failures = 0;       ///< writes refused or failed by storage
  uint64_t storage_outages = 0;              ///< times storage became unwritable
  std::map<std::string, kind_stats> by_kind; ///< totals per registered kind, by kind name
  commit_histograms commit; ///< commit coordinator histograms (empty before `start()`)
};

} // namespace cairn
