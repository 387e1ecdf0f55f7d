// SPDX-License-Identifier: Apache-2.0
#pragma once
// Messages sent to the node API, read into envelopes: one message object,
// or a whole `POST /api/v1/messages:batch` body.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "cairn/envelope.hpp"
#include "cairn/http.hpp"
#include "cairn/runtime.hpp"

namespace cairn::api {

/// The members of a message object the node reads, each found in one pass
/// over the object (null: absent).
struct message_members {
  const boost::json::value* to = nullptr;              ///< `to`
  const boost::json::value* type = nullptr;            ///< `type`
  const boost::json::value* payload = nullptr;         ///< `payload`
  const boost::json::value* traceparent = nullptr;     ///< `traceparent`
  const boost::json::value* idempotency_key = nullptr; ///< `idempotency_key`
};

/// Finds the members of `obj`.
message_members members_of(const boost::json::object& obj);

/// One message (`type`, `payload`, `idempotency_key`) for actor `id` (moved
/// into `env.to`), its payload decoded when the kind declares its type; or
/// why it is refused.
std::optional<http_response> envelope_of(runtime& rt, const message_members& m, std::string id,
                                         envelope& env);

/// The same straight from a message's JSON text, when it is plain (see
/// `read_batch`); false if it must be read through the tree. Its
/// traceparent is left to the caller.
bool scan_envelope(runtime& rt, std::string_view body, const std::string& id, envelope& env);

/// A batch's messages: the envelopes to write, and for each message of the
/// body in order a refusal or nothing (its envelope is `envs[k]` for the
/// `k` with `slot[k]` its position).
struct batch_messages {
  std::vector<envelope> envs;                         ///< the messages to write
  std::vector<size_t> slot;                           ///< for each envelope, its message
  std::vector<std::optional<http_response>> problems; ///< per message, a refusal or nothing
  size_t scanned = 0; ///< messages read straight from the text, without a JSON tree
};

/// Reads the body of `POST /api/v1/messages:batch`: a JSON array of
/// messages or NDJSON (one per line); `header_trace` is the request's
/// `traceparent`, for messages without their own. The messages, or the
/// refusal of the whole batch. With `scan`, messages whose members are
/// plain (strings where strings belong, a payload its kind's codec reads
/// from text) are read without a JSON tree; every other one, and every
/// refusal, goes through the tree, so the answer is the same either way
/// (tests read batches both ways).
std::variant<batch_messages, http_response> read_batch(runtime& rt, std::string_view body,
                                                       bool ndjson, const std::string& header_trace,
                                                       bool scan = true);

} // namespace cairn::api
