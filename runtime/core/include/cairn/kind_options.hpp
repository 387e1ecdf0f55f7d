// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a kind of actor is registered with (`runtime::register_kind`): its
// options, the codecs its messages cross the JSON edge with, and the dead
// letters its failed messages become.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "cairn/actor.hpp"
#include "cairn/envelope.hpp"
#include "cairn/retry_policy.hpp"

namespace cairn {

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
  /// A fast path for `from_json` that never fails: it reads the JSON value
  /// at the start of `json` (whitespace before it allowed) into `out` and
  /// returns how many bytes of `json` it took, or declines (0) on anything
  /// it is unsure of — fields out of their declared order, any number with a
  /// fraction — and the caller decodes the same value the usual way, which
  /// words every error. Empty: not offered. Cleared or replaced with
  /// `from_json_value`.
  std::function<size_t(std::string_view json, std::string& out)> from_json_text;
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

} // namespace cairn
