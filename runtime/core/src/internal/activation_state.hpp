// SPDX-License-Identifier: Apache-2.0
// An activation's state and what the runtime keeps per kind (runtime_impl.hpp
// includes it): the atoms activations exchange, a kind's table entry and
// counters, a step on the blocking pool, the flights of step requests and
// the commits counted for them. Never included by anything outside
// runtime/core/src.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "cairn/runtime.hpp"
#include "internal/commit_coordinator.hpp"

namespace cairn {

using internal::commit_request;
using internal::commit_result;
using internal::journal_record;
using internal::mailbox_record;

namespace activation_detail {

using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using resumed_atom = caf::atom_constant<caf::atom("resumed")>;

// A step whose handler continues on the blocking pool (`context::defer`).
struct deferred_step {
  std::shared_ptr<durable_actor> actor;
  envelope env;
  step_effects fx;
  uint64_t seq = 0;
  int64_t start = 0;
};

/// Per-kind totals, exported as labelled metrics.
struct kind_counters {
  std::atomic<uint64_t> accepted{0}, processed{0}, failed{0}, retried{0}, dead_lettered{0};
};

struct kind_entry {
  actor_factory factory;
  kind_options opts;
  std::shared_ptr<kind_counters> counters = std::make_shared<kind_counters>();
};

// What the step in flight will do to the head of the queue once committed.
enum class outcome { none, done, retry, dead };

// Steps an activation runs back to back and commits in one request.
constexpr size_t max_steps_per_commit = 256;
// Step requests of one activation in flight at once: it runs the next
// steps while the ones before commit (its state then runs ahead of storage
// by those requests). A later request follows the one before it
// (`commit_request::follows`): if one fails, the writer refuses the rest,
// and the activation rebuilds its state once all have come back.
constexpr size_t max_flights = 3;

// One step request in flight, and what its commit does to the queue.
struct flight {
  uint64_t seq = 0; // its first row (the head, for outcome::retry and ::dead)
  outcome what = outcome::none;
  // Its success is counted in `quiet_commits`, not sent as a message
  // (`submit_steps`); a failure is sent as ever.
  bool quiet = false;
  std::vector<uint64_t> batch; // the rows its steps handled (outcome::done)
  mailbox_record updated;      // the head's new record (outcome::retry)
  std::optional<dead_letter> dead;
};

/// Successful commits of an activation's quiet flights (`flight::quiet`),
/// counted by the commit thread instead of sent: the activation takes them
/// when it next runs. While it waits for one (a step request at the flight
/// limit, a stage's answer held back, a rebuild after the flights), it sets
/// `wanted` and the next commit wakes it with a message.
///
/// Commits reach the actor in the order of its flights: a quiet flight is
/// counted only while no commit message is on its way to the actor
/// (`sent`), so every counted flight comes before any flight still in a
/// message. A quiet flight that failed, or consumed a staged row written
/// meanwhile (whose second delivery must come first), is sent instead.
struct quiet_commits {
  std::atomic<uint32_t> done{0};   ///< quiet commits not yet taken
  std::atomic<bool> wanted{false}; ///< the actor waits for one: send a message
  std::atomic<uint32_t> sent{0};   ///< commit messages sent, not yet handled
};

struct activation_state {
  runtime::impl* rt = nullptr;
  std::string id;
  const kind_entry* kind = nullptr;
  std::shared_ptr<durable_actor> impl; // shared with a deferred step's job
  std::shared_ptr<deferred_step> open; // the step running on the blocking pool
  uint64_t next_journal_seq = 1;
  uint32_t events_since_snapshot = 0;
  std::map<uint64_t, mailbox_record> queue; // seq -> record, a window of the mailbox
  uint64_t max_seen = 0;                    // highest mailbox seq loaded or delivered
  // The last staged row dropped here (window full, or cleared by a
  // rebuild) while the written copies of the dropped rows have not all
  // come: staged rows are dropped too meanwhile (they come again written,
  // in order), and the activation passivates only once their writes are done.
  uint64_t dropped_staged = 0;
  bool overflow = false; // storage holds rows beyond the window
  // Shared with the route: while set, the router sends nothing (the rows
  // are read from storage when the window drains), so a backlog costs no
  // memory here. Cleared before every storage read, never after.
  std::shared_ptr<std::atomic<bool>> window_full;
  int64_t tick_due = 0;       // the backoff tick already armed for the head (0: none)
  std::deque<flight> flights; // step requests in flight, oldest first
  std::shared_ptr<quiet_commits> quiet = std::make_shared<quiet_commits>();
  uint32_t quiet_taken = 0; // quiet commits counted but not yet matched to a flight
  // A request of `flights` failed: the rest fail after it, then the state
  // is rebuilt from storage.
  bool failing = false;
  // The request being built (moved into a flight when submitted).
  outcome pending = outcome::none;
  mailbox_record updated;
  std::vector<uint64_t> batch;
  bool batch_staged = false; // every row of `batch` is staged (`mailbox_record::provisional`)
  std::vector<std::function<void()>> after_commit;
  std::optional<dead_letter> dead;
  // A handler ran after the steps in flight and was not committed (it failed
  // or deferred): its changes to the state are rebuilt away once every
  // flight is back, and nothing runs until then.
  bool reload = false;
  uint64_t received = 0; // deliveries received, for the passivation handshake
  // The stage whose rows came last, until a step request (or an answer)
  // tells the commit writer this activation has run what it will for now.
  uint64_t owed_epoch = 0;
  caf::error broken; // state could not be rebuilt: the activation ends after this commit
  int64_t last_activity = 0;
  bool idle_armed = false;
  static inline const char* name = "cairn.activation";
};

using activation_actor = caf::stateful_actor<activation_state>;

inline double unit_random() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(gen);
}

} // namespace activation_detail

} // namespace cairn
