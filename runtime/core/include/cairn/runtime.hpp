// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "cairn/actor.hpp"
#include "cairn/envelope.hpp"
#include "cairn/placement.hpp"
#include "cairn/retry_policy.hpp"
#include "cairn/storage.hpp"
#include "cairn/supervisor.hpp"

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
};

/// A message that exhausted its retries, with why.
struct dead_letter {
  envelope env;                    ///< the message; its id is the dead letter's id
  std::string error;               ///< the last attempt's error, or why the record is corrupt
  uint32_t attempts = 0;           ///< attempts made (0 for a corrupt record never handled)
  int64_t failed_ms = 0;           ///< when it was dead-lettered
  std::vector<int64_t> attempt_ms; ///< when each attempt started
  std::string raw;                 ///< the undecodable bytes, for corrupt records
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("cairn.dead_letter"), x.env, x.error, x.attempts, x.failed_ms,
           x.attempt_ms, x.raw);
}

/// How one message or event type crosses the JSON edge (the node API, the
/// CLI, MCP resources). Built by `cairn/json_codec.hpp` from the type's
/// `inspect()`; the core only calls the functions.
struct message_codec {
  std::string type; ///< the versioned type tag
  /// JSON text to the type's stored payload; an `invalid_payload` error
  /// names the offending field.
  std::function<caf::expected<std::string>(std::string_view json)> from_json;
  /// The same from JSON parsed already (the node API parsed the request):
  /// `json` is a `const boost::json::value*` (the core names no JSON
  /// library). Empty: such callers serialize the value for `from_json`. A
  /// codec that replaces `from_json` (to add checks) must replace or clear
  /// this one too.
  std::function<caf::expected<std::string>(const void* json)> from_json_value;
  /// A stored payload as JSON text.
  std::function<caf::expected<std::string>(std::string_view bytes)> to_json;
  /// The payload is stored as JSON text (for `on_json` handlers), not binary.
  bool json_passthrough = false;
};

/// Per-kind behaviour: how to build an activation and how its messages retry.
struct kind_options {
  /// The message types this kind accepts from outside (the node API and
  /// `cairn send`). When set, any other type is refused at the door with
  /// `invalid_argument` and a payload that does not decode with
  /// `invalid_payload`, before anything is persisted. Empty: JSON payloads
  /// are passed to the actor's `on_json` handlers unchecked.
  std::vector<message_codec> accepts;
  /// Not empty: the node API refuses every message to this kind from outside
  /// with this text (say where to go instead), whatever `accepts` lists —
  /// for kinds only their own front door may write to.
  std::string closed_door;
  /// Codecs for the events this kind journals (and messages it sends), so
  /// operators see them as JSON instead of bytes.
  std::vector<message_codec> events;
  retry_policy retry;                             ///< how failing messages of this kind are retried
  std::chrono::milliseconds idle_timeout{10'000}; ///< an actor's idle time before passivation
  uint32_t snapshot_every = 100;                  ///< events between snapshots (0 = never)
  /// Journal retention: how long events that the actor's latest snapshot
  /// already covers are kept. Nothing (the default) keeps every event: the
  /// whole audit trail. 0 deletes them once a snapshot covers them; N keeps
  /// them until N after they were journaled. Events no snapshot covers are
  /// always kept (the state is rebuilt from them).
  std::optional<std::chrono::milliseconds> keep_covered_events;
  /// Called after a message of this kind was durably dead-lettered.
  std::function<void(const dead_letter&)> on_dead_letter;
};

/// Builds a fresh activation for the actor `id` (its state is then restored
/// from storage).
using actor_factory = std::function<std::unique_ptr<durable_actor>(std::string_view id)>;

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
  /// Accepted rows whose step came in the write that accepted them: never
  /// put in the mailbox or deleted from it (staged accepts).
  uint64_t rows_unwritten = 0;
  /// Staged rows whose step was not back when their stage was written:
  /// carried to the next write, their senders answered after it.
  uint64_t rows_carried = 0;
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

/// One journaled event with where it came from (the audit trail).
struct journal_entry {
  uint64_t seq = 0;     ///< its position in the actor's journal, from 1
  std::string type;     ///< the event's type tag
  std::string payload;  ///< as the actor emitted it (CAF binary)
  int64_t time_ms = 0;  ///< when its step committed (0: written before layout 3)
  std::string cause;    ///< id of the envelope whose step emitted it
  std::string trace_id; ///< that envelope's trace
};

/// How a span relates to its neighbours (OpenTelemetry's SpanKind, same numbers).
enum class span_kind : uint8_t { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

/// How a span ended (OpenTelemetry's status codes, same numbers).
enum class span_status : uint8_t { unset = 0, ok = 1, error = 2 };

/// A typed attribute of a span (OpenTelemetry's attribute model).
struct span_attribute {
  std::string key;                                        ///< e.g. `mcp.method.name`
  std::variant<std::string, int64_t, double, bool> value; ///< the attribute's typed value
};

/// A link from a span to another one; `type` says why (`retry_of`, `resumed_from`).
struct span_link {
  std::string trace_id; ///< the linked span's trace (32 hex digits)
  std::string span_id;  ///< the linked span (16 hex digits)
  std::string type;     ///< the relation, e.g. `retry_of`
};

/// A message a step sent.
struct sent_message {
  std::string id;   ///< its envelope id
  std::string to;   ///< its receiver's actor id
  std::string type; ///< its message type tag
};

/// One span as the `trace` column family keeps it (invariant 5;
/// docs/observability.md, "Span model"). A step's span fills the step
/// fields; other spans leave them empty and say what they are in `name`
/// and `attributes`.
struct span_record {
  std::string trace_id;                    ///< 32 lowercase hex digits
  std::string span_id;                     ///< 16 lowercase hex digits
  std::string parent_span_id;              ///< empty for a root
  std::string name;                        ///< low cardinality; a step's is "process {type}"
  span_kind kind = span_kind::internal;    ///< a step's is `consumer`
  int64_t start_us = 0;                    ///< Unix microseconds
  int64_t end_us = 0;                      ///< Unix microseconds
  span_status status = span_status::unset; ///< how it ended
  std::string status_message;              ///< the error, when `status` is error
  // A step's own:
  std::string actor;                      ///< the id of the actor that ran the step
  std::string type;                       ///< the message type it handled
  std::string envelope_id;                ///< the id of the message it handled
  uint32_t attempt = 0;                   ///< 0 for the first
  uint64_t first_event = 0;               ///< journal seq of its first event (0: none)
  uint32_t events = 0;                    ///< events it journaled
  std::vector<sent_message> sent;         ///< messages the step sent, in order
  std::vector<span_attribute> attributes; ///< any span's extra attributes
  std::vector<span_link> links;           ///< related spans (the attempt a retry follows, ...)

  /// `start_us` in Unix milliseconds.
  int64_t start_ms() const { return start_us / 1000; }
  /// `end_us` in Unix milliseconds.
  int64_t end_ms() const { return end_us / 1000; }
  /// "ok", the error, or "unset".
  std::string status_text() const {
    return status == span_status::ok      ? "ok"
           : status == span_status::error ? status_message
                                          : "unset";
  }
};

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
