// SPDX-License-Identifier: Apache-2.0
#pragma once
// The execution layer's node-wide settings (`runtime::open` takes them).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/placement.hpp"
#include "cairn/storage.hpp"

namespace cairn {

/// When a commit counts as durable.
enum class durability {
  os,    ///< written to the RocksDB log (survives a process crash, not a power cut)
  fsync, ///< the log is fsynced before anyone is told "accepted" (group fsync)
};

/// How the actor scheduler's threads find work.
enum class scheduling {
  /// One queue all scheduler threads take from (CAF's work sharing). Its cost
  /// stays the same however many actors wait to run.
  sharing,
  /// A queue per thread; an idle thread steals from another's (CAF's work
  /// stealing). About 10 % more messages a second on an unloaded node, but a
  /// steal walks the victim's whole queue under its lock: with a backlog of
  /// 10^5 ready actors (a million actors woken at once) the threads spend
  /// their time stealing and the node crawls (bench/RESULTS.md).
  stealing,
};

/// The settings' names of the two enums above ("os", "fsync"; "sharing",
/// "stealing"), and back: nothing for any other text.
const char* name_of(durability d);
const char* name_of(scheduling s);
std::optional<durability> durability_named(std::string_view name);
std::optional<scheduling> scheduling_named(std::string_view name);

/// `runtime_options::commit_cpu`: the CPU found for it, or none.
inline constexpr int commit_cpu_auto = -1;
/// `runtime_options::commit_cpu`: any CPU the process may use.
inline constexpr int commit_cpu_off = -2;

/// Node-wide settings of the execution layer.
struct runtime_options {
  std::string data_dir = "cairn-data";   ///< the RocksDB database directory
  durability mode = durability::os;      ///< when a commit counts as durable
  size_t max_batch = 1024;               ///< commit requests per RocksDB write
  std::chrono::microseconds max_wait{0}; ///< linger for a fuller batch (0 = never)
  /// Staged accepts: a message accepted without an idempotency key is
  /// routed to its actor while its write waits, at most this long, for the
  /// actor's step, and written with it (the row is then neither put nor
  /// deleted). Its sender hears "accepted" after that write, as always.
  /// 0: written first, routed after. Single nodes only (no `place`/`admit`).
  std::chrono::microseconds stage_wait{2000};
  /// With `durability::fsync`: each new write-ahead log starts on a file of
  /// this many zero bytes written ahead (`wal.spare` in the data directory),
  /// so the fsync of a commit writes the data and flushes, without also
  /// writing the log's new size (storage_options::wal_spare_bytes). 0: off.
  uint64_t wal_spare_bytes = uint64_t{64} << 20;
  /// The CPU the commit thread runs on. `commit_cpu_auto`: with
  /// `durability::fsync`, the CPU that takes the completion interrupts of
  /// the data directory's disk, when there is one (a disk with one hardware
  /// queue whose interrupt goes to one CPU) and the process may use it and
  /// another; then each fsync wakes the thread on its own CPU. Otherwise any
  /// CPU. `commit_cpu_off`: any CPU. 0 or more: that CPU.
  int commit_cpu = commit_cpu_auto;
  /// With `commit_cpu_auto`: how often the node looks again, so that an
  /// interrupt moved later (by irqbalance, say) takes the thread with it.
  std::chrono::milliseconds commit_cpu_recheck{10'000};
  size_t max_pending = 1'000'000;     ///< accepted but unprocessed messages before "busy"
  size_t max_queued_commits = 65'536; ///< commit requests waiting for the writer
  /// Envelopes an activation holds in memory as they arrive. Past it, rows
  /// wait in storage and are read once the activation has handled the ones
  /// it holds (a burst to one actor larger than this costs a write and a
  /// read per row).
  size_t activation_queue = 2048;
  /// Envelopes an activation reads from its mailbox in storage at once: when
  /// it starts, or once its window drained (at most `activation_queue`). A
  /// recovery with every actor backlogged holds this many per actor.
  size_t mailbox_read = 512;
  size_t max_active = 200'000; ///< activations alive at once (recovery pacing)
  /// How long an idempotency key is remembered: a repeat within it is a
  /// duplicate (default 24 h).
  std::chrono::milliseconds dedupe_window{24 * 3600 * 1000};
  std::chrono::milliseconds span_retention{24 * 3600 * 1000}; ///< then spans are deleted
  /// Actor scheduler threads (0: one per core, less one for the commit thread).
  size_t threads = 0;
  scheduling scheduler = scheduling::sharing; ///< how those threads find work
  /// Threads for blocking work of deferred steps (`context::defer`: tool
  /// handlers, child processes, network calls), and how many such steps may
  /// wait for one before new ones are refused as `busy` (and retried).
  size_t blocking_threads = 64;
  size_t blocking_queue = 4096; ///< deferred steps that may wait for a blocking thread
  bool record_spans = true;     ///< store one span per step in `trace`
  /// Local mailbox or outbox, per receiver (see placement.hpp). Empty: all local.
  placement_fn place;
  /// Called on the commit thread after a commit put envelopes into the
  /// outbox, with (peer, receiver) of each (the cluster layer wakes its
  /// forwarders and counts rows per peer and shard).
  /// Must not block.
  std::function<void(const std::vector<std::pair<std::string, std::string>>& rows)> on_forwarded;
  /// Whether this node may commit work for an actor now (the cluster layer:
  /// it owns the actor's shard and is not handing it over). Asked on the
  /// commit thread for a step's actor and for every forwarded envelope; a
  /// refused request writes nothing and fails with `shard_not_owned`. Must
  /// be fast and never block. Empty: every actor is admitted.
  std::function<bool(std::string_view actor_id)> admit;
  /// Whether a due timer for `to` may fire here now (the cluster layer:
  /// not while its shard is handed over from here, or while a drained node
  /// ships its timers away). Asked on the commit thread, so a refusal is
  /// ordered with every other commit; a held timer stays and fires later.
  /// Must be fast and never block. Empty: every timer fires when due.
  std::function<bool(std::string_view to)> fires;
  /// Test seam: wraps the opened storage, as RocksDB's tests wrap `Env` to
  /// inject faults. Empty in production.
  std::function<std::unique_ptr<storage>(std::unique_ptr<storage>)> wrap_storage;
  /// Test seam: where `commit_cpu_auto` reads the kernel's /sys.
  std::string sys_root = "/sys";
  /// Test seam: where `commit_cpu_auto` reads the kernel's /proc.
  std::string proc_root = "/proc";
};

} // namespace cairn
