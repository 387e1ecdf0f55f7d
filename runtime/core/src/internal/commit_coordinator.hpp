// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cairn/actor.hpp"
#include "cairn/envelope.hpp"
#include "cairn/placement.hpp"
#include "cairn/runtime.hpp"
#include "cairn/storage.hpp"
#include "internal/derived_ids.hpp"
#include "internal/span_codec.hpp"

namespace cairn::internal {

/// What the mailbox column family stores for one envelope.
struct mailbox_record {
  mailbox_record() = default;
  /// A row's record made from its envelope in place (the envelope moved
  /// once): no failed attempt, no error.
  explicit mailbox_record(envelope&& e) noexcept : env(std::move(e)) {}
  /// A record with its attempts and last error.
  mailbox_record(envelope e, std::vector<int64_t> attempts, std::string error)
    : env(std::move(e)), attempt_ms(std::move(attempts)), last_error(std::move(error)) {}

  envelope env;
  std::vector<int64_t> attempt_ms; ///< start time of each failed attempt
  std::string last_error;
  /// Memory only, never stored: the row came from a write this process saw
  /// succeed, under a sequence number never used again, and was not
  /// rewritten since, so one single deletion removes it (storage.hpp,
  /// `erase_once`). Rows read back from storage never carry it: a failed
  /// write may have reached the log and put the key a second time.
  bool written_once = false;
  /// Memory only: routed before its write (a staged accept, see
  /// `commit_coordinator`), so its step names it in `commit_request::consumes`
  /// (or `after_rows`) rather than deleting its key.
  bool provisional = false;
  /// Memory only: a step request in flight handled it.
  bool running = false;
  /// Memory only: what its accept knew of its id and trace (`step_hint`).
  step_hint hint{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_record& x) {
  return f(caf::meta::type_name("cairn.mailbox_record"), x.env, x.attempt_ms, x.last_error);
}

/// What `encode(mailbox_record{env, {}, {}})` writes, byte for byte, built
/// without CAF's serializer (the commit writer's record for every new
/// mailbox row; the serializer's call per field was 8 % of the writer's
/// samples): each string as its length in 7-bit groups, lowest first, then
/// its bytes; `format` as one byte; the integers big-endian; then two empty
/// sequences (no attempts, no error). A test compares it with the encoder.
std::string encode_new_mailbox_record(const envelope& env);

/// New mailbox records (`encode_new_mailbox_record`), back to back in one
/// block made with one allocation: an accepted batch's records cost its
/// thread one allocation, and the writer's thread, which frees them, one
/// free (a free of memory another thread allocated costs jemalloc about 120
/// instructions). The bytes never move once made, also when the block
/// moves: a staged row views its record in place.
class record_block {
public:
  record_block() = default;
  /// The records of `envs`, in order.
  explicit record_block(const std::vector<envelope>& envs);

  size_t size() const { return ends_.size(); }
  /// Record `i`.
  std::string_view at(size_t i) const {
    auto from = i == 0 ? 0 : ends_[i - 1];
    return {bytes_.get() + from, ends_[i] - from};
  }

private:
  std::unique_ptr<char[]> bytes_;
  std::vector<size_t> ends_; ///< where each record ends in `bytes_`
};

/// The receiver's id in a record `encode_new_mailbox_record` wrote, as a
/// view into it; empty (at its end) if `record` is shorter than its lengths say.
std::string_view mailbox_record_to(std::string_view record);

/// What the journal column family stores for one event (layout 3 on): the
/// event and the audit trail of where it came from.
struct journal_record {
  std::string type;
  std::string payload;
  int64_t time_ms = 0;
  std::string cause;
  std::string trace_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_record& x) {
  return f(caf::meta::type_name("cairn.journal_record"), x.type, x.payload, x.time_ms, x.cause,
           x.trace_id);
}

/// Set in the epoch of rows that joined a stage during a write: their
/// activation owes the writer no answer for them (`commit_coordinator`).
constexpr uint64_t joined_epoch_bit = uint64_t{1} << 63;

/// An envelope that a commit put into a mailbox.
struct routed {
  uint64_t seq;
  envelope env;
  bool fresh = false; ///< its receiver is a new actor (`commit_request::fresh`)
  /// Staged: routed before its write (`commit_coordinator`, "staged accepts").
  bool provisional = false;
  step_hint hint{}; ///< what its accept knew of its id and trace
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, routed& x) {
  return f(caf::meta::type_name("cairn.routed"), x.seq, x.env, x.fresh, x.provisional,
           x.hint.id_hash, x.hint.id_clock, x.hint.id_tag, x.hint.derived_trace);
}

struct commit_result {
  caf::error err;
  std::vector<routed> delivered; ///< new mailbox rows, in seq order
  size_t forwarded = 0;          ///< envelopes put in the outbox for their owner node
  /// Per envelope put in the outbox: (peer, receiver).
  std::vector<std::pair<std::string, std::string>> forwarded_to;
  std::vector<std::string> ids; ///< per `enqueue` entry: its id, or the duplicate's
  size_t duplicates = 0;
  std::vector<std::string> topics; ///< topics that received events
  size_t timers_added = 0;
  /// Rows of this (staged) accept whose step came in the same write: neither
  /// put nor deleted, never routed again, but counted as `delivered` are.
  size_t consumed = 0;
  /// A staged row this step consumes was written by an earlier write (its
  /// step came late): that write routed the row again, so the actor must
  /// learn of this commit after that delivery, by message.
  bool consumed_written = false;
};

/// One unit of atomic work: a step, an accept, a timer firing, a redrive.
struct commit_request {
  write_set ops;
  /// Its spans, as members of a group row (span_codec.hpp), one after the
  /// other: the writer puts those of all requests of one batch into a
  /// single `trace` row keyed by the batch's time.
  std::string spans;
  /// Where `spans`' last step span starts (span_codec.hpp): the next step
  /// span of the same actor and type names it instead of repeating them.
  span_chain spans_chain;
  std::vector<envelope> enqueue;
  /// Per envelope of `enqueue`, if as long: its new mailbox record, made
  /// by the submitter so the writer's thread does not; empty, the writer
  /// encodes each envelope itself.
  record_block records;
  /// Per envelope of `enqueue`, if as long: what its accept knew of its id
  /// and trace (`step_hint`), handed to its steps.
  std::vector<step_hint> hints;
  std::vector<std::pair<int64_t, envelope>> timers; ///< due ms, envelope
  std::vector<std::pair<std::string, step_effects::event>> publish;
  bool dedupe = false; ///< check the idempotency keys of `enqueue`
  /// Every receiver of `enqueue` is a new actor, with no state and no mail
  /// in storage (`runtime::accept_new_async`): an activation started for it
  /// reads nothing.
  bool fresh = false;
  /// Per envelope of `enqueue` (if shorter: false): check its key anyway
  /// (a step's send with a key its handler chose).
  std::vector<bool> dedupe_each;
  /// Dedupe rows to delete if they are still expired when the batch is built
  /// (the writer owns `dedupe`, so a fresh claim is never deleted).
  std::vector<std::string> expire_dedupe;
  /// A dead letter this request consumes (redrive, discard): checked by the
  /// writer when it builds the batch, so of several requests for one id
  /// exactly one commits; the others fail with `not_found` and write nothing.
  std::string claim_dead;
  /// The actor whose shard this node must own for the request to commit (a
  /// step's, a failed head's): refused with `shard_not_owned` otherwise.
  std::string home;
  /// Every envelope of `enqueue` goes to this node's mailbox, and only if
  /// its receiver is admitted (forwarded imports: never relayed).
  bool local_admitted = false;
  /// A due timer firing: refused (`busy`, nothing written) if `fires` holds
  /// its receiver back.
  bool fires_timer = false;
  /// Every envelope of `enqueue` goes to the outbox toward this peer, not
  /// asking the placement (an outbox re-addressed to a shard's new owner).
  std::string to_peer;
  /// Mailbox records of another node's actors (a shard handed over): put
  /// under new sequence numbers in this order, routed to nobody.
  std::vector<std::pair<std::string, std::string>> import_mailbox;
  /// Staged rows of `home`'s mailbox (routed before their write) this
  /// step deletes, by sequence number: the writer drops the pair if the
  /// row's put is in the same write, deletes the row once if it was
  /// written, and refuses the request if its write failed.
  std::vector<uint64_t> consumes;
  /// Staged rows this request depends on without deleting them (a failed
  /// step's retry or dead letter): refused if their write failed.
  std::vector<uint64_t> after_rows;
  /// The stage whose rows the submitting activation received last (0:
  /// none): the writer, waiting for that stage's steps, counts it.
  uint64_t epoch = 0;
  /// A step request its actor submitted while its previous one was still in
  /// flight (built on that one's state): refused if a request of `home`
  /// failed since the actor last submitted one that does not follow.
  bool follows = false;
  std::function<void(commit_result&)> done;
};

/// The group-commit writer: one thread that takes every queued request,
/// assigns sequence numbers, and writes them in one RocksDB write (one fsync
/// in `fsync` mode), then answers each request. Requests commit in submission
/// order (staged accepts: numbered in it, written one write later).
/// `submit` is thread-safe; callbacks run on the writer thread and must not
/// block.
///
/// Staged accepts (`settings::stage_wait` > 0): a plain accept (no key, no
/// placement or admission question) is not written with the batch it came
/// in. After that batch's write its rows are numbered and routed to their
/// activations, marked provisional; the writer then waits (at most
/// `stage_wait`) until every activation that got some answered (with a
/// step request, or `answer`), and writes the rows with those steps. A row
/// whose step deletes it in that same write is neither put nor deleted.
/// Its sender is told "accepted" only after that write, so a crash or a
/// failed write loses both the row and its step, never one of them. Rows
/// are numbered after the rows of the write before, so every row becomes
/// visible in storage in sequence order; rows not consumed are routed
/// again after their write, as every written row is.
///
/// The stage grows while the write before it is on its way: a plain accept
/// submitted then is numbered and routed by its submitter at once, joining
/// the stage, instead of waiting for the write to end (the writer's thread
/// holds `stage_mtx_` but while it writes). It joins only if no accept is
/// queued before it (the order per receiver). After that write the writer
/// waits for the joined rows' steps at most as long as the write took (and
/// `stage_wait`).
///
/// A row of the stage whose step is not back when the stage is written is
/// carried to the next write, once: written there with its step, or as a
/// mailbox row (then routed again, as every written row). Its request is
/// answered after that write. Not carried: a row whose receiver gets a row
/// put by this write (it would be overtaken), that never reached its
/// activation (its step only comes once it is written), or whose activation
/// answered that no step is coming now (`answer`).
class commit_coordinator {
public:
  struct settings {
    bool sync = false;
    size_t max_batch = 1024;
    std::chrono::microseconds max_wait{0};
    size_t max_queued = 65'536;
    int64_t dedupe_window_ms = 0;
    placement_fn place;                          ///< empty: every receiver is local
    std::function<bool(std::string_view)> admit; ///< empty: every actor is admitted
    std::function<bool(std::string_view)> fires; ///< empty: every due timer fires
    /// Staged accepts: how long the writer waits for the steps of a stage
    /// (0: accepts are written as they come, routed after their write).
    /// Only without `place` and `admit` (a single node).
    std::chrono::microseconds stage_wait{0};
  };

  /// Called once per write, on the writer thread, with the results of its
  /// requests that were not refused (in request order), before any
  /// request's `done`.
  using delivered_fn = std::function<void(std::vector<commit_result*>&)>;

  /// Routes a stage's rows (seq order) to their activations, provisional,
  /// tagged with the stage's epoch, except to the receivers in `hold`;
  /// returns how many activations got some, and adds the receivers it did
  /// not route to (held, or not reachable now) to `unreached`.
  using staged_fn = std::function<size_t(std::vector<routed>&, uint64_t epoch,
                                         const std::unordered_set<std::string>& hold,
                                         std::unordered_set<std::string>& unreached)>;

  commit_coordinator(storage& store, settings s, uint64_t next_seq, delivered_fn on_batch_delivered,
                     staged_fn on_staged = {});
  ~commit_coordinator();

  /// Queues `r`; false (and `r` untouched) if the queue is full and not `force`.
  bool submit(commit_request& r, bool force);

  /// Adds spans (members of a group row, span_codec.hpp) that belong to no
  /// request: written with the next batch, in its group row. Wakes the
  /// writer only if it waits for work, so spans recorded while it is busy
  /// (an MCP request's, answered from a commit callback) cost no write of
  /// their own.
  void add_spans(std::string_view members);

  /// The activation of `actor`, which got rows of stage `epoch`, submits no
  /// step request for now (its step waits for blocking work, a backoff, a
  /// rebuild, ...): the writer stops waiting for it, and writes its rows
  /// with the stage as mailbox rows rather than carry them to the next
  /// write for a step that is not coming.
  void answer(uint64_t epoch, const std::string& actor);

  /// Commits what is queued, then stops the writer. Idempotent.
  void stop();

  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  commit_histograms histograms() const;
  uint64_t committed_requests() const { return requests_.load(std::memory_order_relaxed); }
  size_t queued() const;
  /// Staged rows whose step came in their own write (neither put nor deleted).
  uint64_t rows_unwritten() const { return unwritten_.load(std::memory_order_relaxed); }
  /// Staged rows whose step was not back when their stage was written.
  uint64_t rows_carried() const { return carried_.load(std::memory_order_relaxed); }
  /// Binds the writer thread to `cpu`, or with -1 lets it run on any CPU the
  /// calling thread may use; false if the system refused.
  bool bind(int cpu);
  /// The CPU the writer is bound to (`bind`), or -1.
  int cpu() const { return cpu_.load(std::memory_order_relaxed); }
  /// Every row numbered below this was written (and its routing sent) or
  /// refused: the writes of rows routed before their write are done.
  uint64_t settled() const { return settled_.load(std::memory_order_acquire); }

private:
  void run();
  void commit(std::vector<commit_request>& batch, std::string_view loose, bool may_stage);
  bool stageable(const commit_request& r) const;
  bool in_failed_stage(uint64_t seq) const;
  void stage(std::vector<commit_request>& batch, std::vector<bool>& staging,
             std::unordered_set<std::string>& hold);
  /// Numbers `req`'s rows after every row so far and adds them to the
  /// stage; the rows to route go to `rows`.
  void add_to_stage(commit_request& req, std::vector<routed>& rows);
  /// Routes rows of the stage (opening one if none is open): those for a
  /// receiver in `hold` after the write in flight, none to a receiver the
  /// stage did not reach before.
  void route_stage(std::vector<routed>& rows, const std::unordered_set<std::string>& hold);
  /// Writes `ws`; with `may_stage`, lets accepts join the stage meanwhile
  /// (`stage_lock` is released for the write).
  caf::error write_staging(const write_set& ws, bool may_stage,
                           std::unique_lock<std::mutex>& stage_lock);
  /// Adds a plain accept to the stage on its submitter's thread.
  void stage_direct(commit_request& r);
  void route_later();
  /// Waits (with `mtx_` held) for the stage's steps, then a while for
  /// those of rows that joined it during the write before.
  void wait_for_steps(std::unique_lock<std::mutex>& lock);
  /// Rows of the stage just numbered whose receivers had earlier messages
  /// still unrouted: routed (provisional) right after the write in flight.
  std::vector<routed> later_;
  uint64_t later_epoch_ = 0;
  /// Receivers of the stage being written that were not routed to before
  /// it (written rows only are routed to them): the next stage waits for
  /// its write there too, so an actor never gets a later message first.
  std::unordered_set<std::string> unreached_;
  /// `stepless_` of the stage being written (writer thread only): its rows
  /// for them are not carried.
  std::unordered_set<std::string> no_step_coming_;
  void put_spans(write_set& ws, std::string& group);

  storage& store_;
  settings settings_;
  uint64_t next_seq_;
  delivered_fn on_delivered_;
  staged_fn on_staged_;
  uint64_t hw_written_ = 0; ///< the high-water mark last put in `meta`
  /// The stage: accepts taken from the queue, routed, not yet written
  /// (writer thread only).
  struct staged_row {
    uint64_t seq = 0;
    uint32_t req = 0; ///< index in `stage_reqs_`
    bool fresh = false;
    bool cancelled = false; ///< its step is in the write being built
    bool carried = false;   ///< not written with its stage: waits for the next write
    bool pinned = false;    ///< a request of this write depends on it (`after_rows`)
    uint32_t to_at = 0;     ///< where `record` holds the receiver's id
    uint32_t to_size = 0;
    /// Its bytes, in its request's `records` (which lives as long as the
    /// row: both are dropped, or carried, together).
    std::string_view record;
    /// The receiver's id, read in place from `record`: most rows are
    /// consumed in the write that stages them and never need it.
    std::string_view to() const { return record.substr(to_at, to_size); }
  };
  std::vector<commit_request> stage_reqs_;
  std::vector<commit_result> stage_res_;
  std::vector<staged_row> stage_rows_; ///< in seq order, contiguous
  /// Rows of the stage written last whose steps were not back: written by
  /// the next write (with their steps, or as mailbox rows), with their
  /// requests, answered then (writer thread only). `req` indexes
  /// `carried_reqs_`; in seq order, below every row of the stage.
  std::vector<staged_row> carried_rows_;
  std::vector<commit_request> carried_reqs_;
  std::vector<commit_result> carried_res_;
  std::chrono::steady_clock::time_point carried_until_; ///< written by then at the latest
  /// The row `seq` of the stage or of the rows carried to this write, or null.
  staged_row* staged_at(uint64_t seq);
  /// Puts the carried rows and the stage's that are not carried now (see
  /// the class comment) and appends the stage's spans; which stage requests
  /// have rows carried.
  std::vector<bool> put_stage_rows(write_set& ws, std::string& spans,
                                   const std::unordered_set<std::string>& hold, bool may_stage);
  /// Moves the requests `carries` marks, with their carried rows, to the
  /// carried ones; returns this write's part of their results.
  std::vector<commit_result> carry_late(std::vector<commit_request>& reqs,
                                        std::vector<commit_result>& results,
                                        std::vector<staged_row>& rows,
                                        const std::vector<bool>& carries);
  /// Seq ranges [from, to) of stages whose write failed: a step of one of
  /// their rows is refused (its sender was told the message was refused).
  std::vector<std::pair<uint64_t, uint64_t>> failed_stages_;
  /// Actors with a failed request whose later, following ones are refused
  /// (writer thread only).
  std::unordered_set<std::string> tainted_;
  std::chrono::steady_clock::time_point stage_deadline_;
  uint64_t epochs_ = 0;
  // Guarded by mtx_: the stage the writer waits for, and its answers.
  uint64_t open_epoch_ = 0;
  /// Receivers of the open stage whose activations answered without a step.
  std::unordered_set<std::string> stepless_;
  size_t awaited_ = 0;
  size_t answered_ = 0;
  bool stage_waiting_ = false;
  std::atomic<uint64_t> unwritten_{0};
  std::atomic<uint64_t> carried_{0};
  std::atomic<int> cpu_{-1};
  std::atomic<uint64_t> settled_{0};
  std::unordered_map<std::string, uint64_t> topic_seq_;
  /// The time of the last `trace` row written (µs): each batch's row gets a
  /// later one, so rows are in commit order even if the clock steps back.
  uint64_t last_span_us_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<commit_request> queue_;
  std::string loose_spans_; ///< `add_spans`' members for the next batch
  bool stopping_ = false;
  bool writer_idle_ = false; ///< the writer waits for work (guarded by mtx_)
  // Accepts joining the stage during a write (guarded by mtx_).
  bool writing_ = false;      ///< a write is on its way: plain accepts may join the stage
  size_t queued_accepts_ = 0; ///< queued requests with envelopes and no `home`
  size_t joining_ = 0;        ///< accepts being added to the stage now
  size_t stage_size_ = 0;     ///< rows in the stage
  /// Rows that joined the stage, [joined_lo_, joined_hi_), whose steps are
  /// not queued yet (a queued step's `consumes` counts them off).
  uint64_t joined_lo_ = 0, joined_hi_ = 0;
  size_t joined_waiting_ = 0;
  bool joined_waited_ = false; ///< the writer waits for `joined_waiting_` to reach 0
  /// How long the last write took (writer thread only): the most the
  /// writer waits for joined rows' steps after it.
  std::chrono::steady_clock::duration write_took_{};
  /// The stage (its rows, requests, `next_seq_`, `later_`, `unreached_`,
  /// `write_hold_`): held by the writer's thread but while it writes, and
  /// by a submitter adding its accept to the stage then.
  std::mutex stage_mtx_;
  /// Receivers of rows in the write on its way that are routed after it.
  std::unordered_set<std::string> write_hold_;
  // Fixed-bucket histograms, written by the writer thread only.
  struct buckets {
    std::vector<double> bounds;
    std::unique_ptr<std::atomic<uint64_t>[]> counts; // per bucket, not cumulative
    std::atomic<uint64_t> count{0};
    std::atomic<double> sum{0};
    explicit buckets(std::vector<double> b);
    void observe(double v);
    histogram snapshot() const;
  };
  buckets batch_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}};
  buckets latencies_{
    {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> requests_{0};
  std::thread writer_;
};

} // namespace cairn::internal
