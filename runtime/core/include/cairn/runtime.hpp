// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "cairn/actor.hpp"
#include "cairn/audit_records.hpp"
#include "cairn/envelope.hpp"
#include "cairn/kind_options.hpp"
#include "cairn/runtime_options.hpp"
#include "cairn/runtime_stats.hpp"
#include "cairn/storage.hpp"
#include "cairn/supervisor.hpp"

namespace cairn {

/// A cairn node's execution layer: durable mailboxes, atomic steps, group
/// commit, virtual actors, retries, dead letters, timers and topics over one
/// RocksDB database. Thread-safe: every member may be called from any thread
/// after `start()`; `register_kind` also before and concurrently with it.
class runtime {
public:
  /// Opens the data directory (refusing an unknown layout or a directory in
  /// use) without starting anything.
  static caf::expected<std::unique_ptr<runtime>> open(runtime_options opts);

  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Registers an actor kind (`"payment"` for ids `payment/...`). Before
  /// `start()` a later registration replaces an earlier one; on a running
  /// node new kinds may be added, but an existing one is not replaced
  /// (`conflict`). A malformed name or missing factory: `invalid_argument`.
  caf::error register_kind(std::string kind, actor_factory factory, kind_options opts = {});

  /// Recovers and starts: counts pending mail, re-arms timers, resumes
  /// mailboxes (interrupted steps re-run) and topic deliveries.
  caf::error start();

  /// Stops accepting, lets in-flight steps commit, flushes and closes storage.
  /// Idempotent; also run by the destructor.
  void stop();

  /// Accepts `env` for delivery; returns its id once it is durably in the
  /// mailbox (invariant 1). Fills in id, created time and trace context when
  /// empty. A repeated idempotency key within the dedupe window returns the
  /// first envelope's id and stores nothing. Over the pending cap: `busy`.
  /// Waits for the write: call it from outside the actor threads (a step
  /// sends with `context::send`; an I/O thread uses `accept_async`).
  caf::expected<std::string> accept(envelope env);

  /// Like `accept`, answering on the commit thread through `done`.
  void accept_async(envelope env, std::function<void(caf::expected<std::string>)> done);

  /// Like `accept_async`, for the first message of a new actor: `env.to` is
  /// an id nothing was ever sent to, made unique by the caller (an MCP call's
  /// id carries 120 random bits). Its activation reads neither state nor
  /// earlier mail from storage, so a one-message actor costs no reads. Used
  /// for an id that had messages, the actor would run from a blank state.
  void accept_new_async(envelope env, std::function<void(caf::expected<std::string>)> done);

  /// One message of `accept_batch`'s answer: its id (for a repeated key, the
  /// first envelope's, with `duplicate` set), or why it was refused.
  struct batch_result {
    caf::expected<std::string> id{std::string{}}; ///< the envelope id, or the refusal
    bool duplicate = false; ///< a repeated key: nothing stored, `id` is the first one's
  };
  /// Accepts several messages in one commit (one write, one fsync): each is
  /// checked as `accept` checks one, the refused ones are answered with
  /// their error and the rest are persisted together, so either all of them
  /// or none are durable (a failed write refuses them all). `done` gets one
  /// result per envelope, in order, on the commit thread (or at once if
  /// none was taken).
  void accept_batch(std::vector<envelope> envs,
                    std::function<void(std::vector<batch_result>)> done);

  /// Builds and accepts a typed message from outside.
  template <class M>
  caf::expected<std::string> tell(std::string to, const M& m, std::string idempotency_key = {}) {
    envelope env;
    env.from = "external";
    env.to = std::move(to);
    env.type = type_tag<M>::value;
    env.payload = encode(m);
    env.idempotency_key = std::move(idempotency_key);
    return accept(std::move(env));
  }

  /// Subscribes `subscriber` (an actor id) to `topic`, from its first event
  /// or from now on. Delivery is durable and in order; offsets are stored.
  caf::error subscribe(std::string topic, std::string subscriber, bool from_beginning = true);

  /// Dead letters, oldest first, after `after_id` (exclusive), at most `limit`.
  caf::expected<std::vector<dead_letter>> dead_letters(size_t limit,
                                                       std::string_view after_id = {});
  /// The dead letter with (envelope) id `id`; `not_found` if none.
  caf::expected<dead_letter> find_dead_letter(std::string_view id);
  /// Moves a dead letter back into its actor's mailbox with a fresh attempt
  /// count. Atomic against concurrent redrives and discards of the same id:
  /// one wins, the others get `not_found`.
  caf::error redrive(std::string_view id);
  /// Deletes a dead letter for good (atomic like `redrive`).
  caf::error discard(std::string_view id);
  /// `redrive` and `discard` answering from the commit callback (the commit
  /// thread): no thread waits for the disk meanwhile.
  void redrive_async(std::string_view id, std::function<void(caf::error)> done);
  /// `discard` answering through `done` on the commit thread.
  void discard_async(std::string_view id, std::function<void(caf::error)> done);

  /// Visits an actor's journal from `from_seq`, in order, at most `limit` events.
  caf::error read_journal(
    std::string_view actor_id, uint64_t from_seq, size_t limit,
    const std::function<void(uint64_t seq, std::string_view type, std::string_view payload)>& fn);

  /// Visits an actor's journal with each event's time, cause and trace.
  caf::error read_journal(std::string_view actor_id, uint64_t from_seq, size_t limit,
                          const std::function<void(const journal_entry&)>& fn);

  /// Every step recorded for a trace (each attempt, on every actor the
  /// request touched), in the order they started. Empty if none is stored
  /// (spans expire after `span_retention`).
  caf::expected<std::vector<span_record>> trace_steps(std::string_view trace_id);

  /// A page of spans in the order they ended (the `trace` family's order).
  struct span_page {
    std::vector<span_record> spans; ///< empty when read without decoding
    std::string next;               ///< the cursor after the last row read ("" if none was)
    size_t rows = 0;                ///< spans read (a row holds the spans of one commit)
    size_t undecodable = 0;         ///< spans read that did not decode (not in `spans`)
  };

  /// Spans after cursor `after` (a `span_page::next`, or "" for the first)
  /// that ended before `until_us`, at most `max`; with `decode` false only
  /// counted, to skip or measure a backlog cheaply.
  caf::expected<span_page> read_spans(std::string_view after, int64_t until_us, size_t max,
                                      bool decode = true);

  /// The cursor before every span that ended at `us` or later.
  static std::string span_cursor_at(int64_t us);

  /// Stores spans that are not steps (an MCP request, say) in `trace`,
  /// asynchronously and without waiting for the disk: a crash may lose the
  /// last of them, never a step's. Nothing when spans are off; a span
  /// without a valid trace id is ignored.
  void record_spans(std::vector<span_record> spans);

  /// The envelope id and trace id a message accepted with `idempotency_key`
  /// got (within the dedupe window). With `to` empty every receiver is
  /// searched. `not_found` if none.
  struct keyed_message {
    std::string to;          ///< the receiver the key was claimed for
    std::string envelope_id; ///< the id of the message accepted with the key
    std::string trace_id;    ///< its trace id (empty if it had none)
  };
  /// Looks up `idempotency_key` (see `keyed_message`).
  caf::expected<keyed_message> find_by_idempotency_key(std::string_view idempotency_key,
                                                       std::string_view to = {});

  /// The codec the node API must use for a message of `type` sent to `kind`
  /// from outside: `nullptr` when the kind declares no types (JSON passes
  /// through), `unknown_actor_kind` or `invalid_argument` (a type the kind
  /// does not accept, naming those it does).
  caf::expected<const message_codec*> edge_codec(std::string_view kind, std::string_view type);

  /// A stored payload of `type` as JSON text, if some kind declared a codec
  /// for it (or it already is JSON); nothing otherwise.
  std::optional<std::string> payload_json(std::string_view type, uint8_t format,
                                          std::string_view payload);

  /// A durable timer not yet fired.
  struct timer_info {
    int64_t due_ms = 0;      ///< when it fires, Unix milliseconds
    std::string to;          ///< the receiver of its message
    std::string type;        ///< its message type ("(corrupt)" if the row does not decode)
    std::string envelope_id; ///< its message's envelope id
  };

  /// Pending timers, earliest first, at most `limit`.
  caf::expected<std::vector<timer_info>> timers(size_t limit);

  /// What the node knows about one actor.
  struct actor_summary {
    std::string id;              ///< the actor's id (`kind/key`)
    bool active = false;         ///< an activation is in memory
    uint64_t mailbox_depth = 0;  ///< messages waiting
    uint64_t journal_length = 0; ///< last journal sequence number
    uint64_t snapshot_seq = 0;   ///< journal position of the latest snapshot (0: none)
    uint32_t head_attempts = 0;  ///< failed attempts of the oldest waiting message
    std::string last_error;      ///< its last error, if any
    std::string state_json;      ///< `durable_actor::describe()` of its state, or empty
    std::string state_error;     ///< why its state cannot be rebuilt now, if so
    bool stopped = false;        ///< stopped: its journal or snapshot cannot be replayed
    std::string stop_reason;     ///< why it was stopped
  };

  /// Actor ids with a journal or mail, in id order, after `after`
  /// (exclusive), of kind `kind` (empty: all), at most `limit`.
  caf::expected<std::vector<std::string>> actor_ids(std::string_view kind, std::string_view after,
                                                    size_t limit);

  /// A summary of one actor; `not_found` if storage holds nothing of it.
  caf::expected<actor_summary> describe(std::string_view id);

  /// A topic, its length and its subscriptions' next offsets.
  struct topic_info {
    std::string name;    ///< the topic's name
    uint64_t events = 0; ///< events published on it (the next event's offset)
    /// (subscriber actor id, offset of the next event to deliver to it)
    std::vector<std::pair<std::string, uint64_t>> subscriptions;
  };

  /// Every topic with events or subscriptions, by name, at most `limit`.
  caf::expected<std::vector<topic_info>> topics(size_t limit);

  /// Calls `fn` with the actor's id after each step that committed (on the
  /// commit thread, once the step is durable: keep it cheap, never wait).
  /// Before `start()`; each call adds one more observer.
  void observe_steps(std::function<void(const std::string& actor_id)> fn);

  /// True once recovery finished and the node accepts messages.
  bool ready() const;

  /// A snapshot of the node's counters and gauges.
  runtime_stats stats() const;

  /// True when no message is pending, no step in flight and no timer armed.
  bool idle() const;

  /// The options the runtime was opened with.
  const runtime_options& options() const;

  /// Spawns a supervision tree (see supervisor.hpp) on this node's actor
  /// system, for long-lived service actors beside the virtual actors. After
  /// `start()`; the runtime stops it (and its children) in `stop()`. Any thread.
  caf::expected<caf::actor> spawn_supervisor(supervisor_spec spec,
                                             std::vector<child_spec> children);

  /// The node's CAF actor system (valid from `start()` until the runtime is
  /// destroyed), for spawning and messaging plain CAF actors. Actors spawned
  /// here directly must end by themselves or be linked to a supervisor from
  /// `spawn_supervisor`: `stop()` waits for every actor of the system.
  caf::actor_system& system();

  /// Whether this node runs the actor `actor_id` now: always on a single
  /// node; in a cluster, while it owns the actor's shard (`admit`). For
  /// naming actors that a caller on this node waits on (an MCP call).
  bool owns(std::string_view actor_id) const;

  // -- The cluster seam (docs/cluster.md) -------------------------------------
  // What the cluster layer (runtime/cluster) needs from a node and nothing
  // else: its outbox, an import path for envelopes other nodes forward, and a
  // few `meta` rows of its own. A single node never calls these.

  /// One outbox row: an envelope waiting to be shipped to the peer node that
  /// owns its receiver.
  struct outbox_row {
    uint64_t seq = 0;        ///< the node-wide commit sequence it was written at
    std::string to;          ///< its receiver
    std::string from;        ///< its sender (an actor id, or empty)
    std::string record;      ///< opaque: what `import_forwarded` takes on the owner
    std::string traceparent; ///< the message's trace context (for the forward span)
    /// Its idempotency key was claimed here (an accepted message with a key,
    /// a send with a key its handler chose), so the owner claims it too. A
    /// key derived from the handled message is not: the sender's commit
    /// made the send exactly once, and the transport's high-water mark
    /// drops a resent row.
    bool claim = false;
  };
  /// Outbox rows toward `peer` from sequence `from_seq` on, in order, at
  /// most `max_rows` and (past the first row) `max_bytes` of records.
  caf::expected<std::vector<outbox_row>> read_outbox(std::string_view peer, uint64_t from_seq,
                                                     size_t max_rows, size_t max_bytes);
  /// Rows per peer in the outbox (a scan: for start-up and status).
  caf::expected<std::map<std::string, uint64_t>> outbox_depths();
  /// Deletes outbox rows the peer acknowledged, through the commit writer;
  /// `done` runs on the commit thread.
  void drop_outbox(std::string peer, std::vector<uint64_t> seqs,
                   std::function<void(caf::error)> done);
  /// Persists forwarded records (from `read_outbox` on another node) in one
  /// commit together with `meta` rows, exactly like accepted messages: the
  /// idempotency key of a record whose `claims` entry is set is claimed
  /// here (a duplicate is dropped). Every receiver must be admitted
  /// (`runtime_options::admit`) when the commit is built, else nothing is
  /// written (`shard_not_owned`): a forwarded envelope is never relayed. A
  /// record that does not decode is refused (`invalid_payload`). `done`
  /// runs on the commit thread.
  void import_forwarded(std::vector<std::string> records, std::vector<bool> claims,
                        std::vector<std::pair<std::string, std::string>> meta_rows,
                        std::function<void(caf::error)> done);
  /// Moves outbox rows toward `peer` (their sequences and records, from
  /// `read_outbox`) to the outbox toward `to_peer`, or to this node's
  /// mailbox if `to_peer` is empty, in one commit and in their order (a
  /// shard's new owner). `done` runs on the commit thread.
  void readdress_outbox(std::string peer, std::vector<outbox_row> rows, std::string to_peer,
                        std::function<void(caf::error)> done);

  /// One stored row of an actor, as a shard handover carries it.
  struct actor_row {
    column family = column::mailbox; ///< mailbox, journal, snapshot or dedupe
    std::string key;                 ///< the row's storage key in `family`, as stored
    std::string value;               ///< the row's stored bytes
  };
  /// Every mailbox, journal, snapshot and idempotency row of the actors
  /// `owns` selects, by family in key order. Timers go separately
  /// (`timer_rows`); dead letters, topics and spans stay where they were
  /// written (docs/cluster.md, "Handoff").
  caf::expected<std::vector<actor_row>>
  export_actor_rows(const std::function<bool(std::string_view actor_id)>& owns);
  /// The timers whose receiver `to` selects (family `timer`, key order).
  caf::expected<std::vector<actor_row>>
  timer_rows(const std::function<bool(std::string_view to)>& to);
  /// Writes rows from another node's `export_actor_rows` or `timer_rows` in
  /// one commit (mailbox and timer rows under this node's sequence numbers,
  /// in their order); nothing is routed until `wake_stored`. A timer already
  /// held here (same due time, same envelope id: sent twice) is skipped.
  /// `done` runs on the commit thread.
  void import_actor_rows(std::vector<actor_row> rows, std::function<void(caf::error)> done);
  /// Deletes exactly these rows (as `export_actor_rows` or `timer_rows`
  /// gave them), in commits of bounded size.
  caf::error erase_rows(const std::vector<actor_row>& rows);
  /// Deletes every row `export_actor_rows` would give for `owns`, in commits
  /// of bounded size; the number of rows deleted.
  caf::expected<size_t> delete_actor_rows(const std::function<bool(std::string_view)>& owns);
  /// Ends the activations of the actors `owns` selects (their state in
  /// memory is dropped; their rows stay).
  void evict_actors(const std::function<bool(std::string_view)>& owns);
  /// Wakes every actor with mail in storage (after rows were imported).
  void wake_stored();
  /// A `meta` row (the cluster layer's keys start with `cluster/`).
  caf::expected<std::optional<std::string>> read_meta(std::string_view key);
  /// Writes a `meta` row: directly before `start()`, through the commit
  /// writer after (so it also serves as a barrier: every commit queued
  /// before it is on disk when it returns).
  caf::error write_meta(std::string key, std::string value);

  /// The underlying storage, for tools and tests that read it.
  cairn::storage& store();

  struct impl;

private:
  explicit runtime(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace cairn
