// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace cairn {

/// The error codes of the cairn runtime. Codes are stable: operators and
/// clients match on them, so a code is never renumbered or reused.
///
/// Why not `std::error_code`: `caf::error` serializes, so a cairn error can
/// cross actors and nodes unchanged (the reasoning of CAF's own `sec`).
enum class errc : uint8_t {
  none = 0,
  busy = 1,             ///< node saturated; retry after the hinted delay
  storage_write_failed, ///< the durable write did not happen; nothing was accepted
  storage_read_failed,  ///< a read from storage failed
  storage_open_failed,  ///< the data directory could not be opened
  storage_in_use,       ///< another node holds the data directory
  unknown_layout,       ///< the data directory has a layout this build does not know
  corrupt_record,       ///< a stored record could not be decoded
  invalid_argument,     ///< a caller passed something malformed
  unknown_actor_kind,   ///< no actor kind with that name is registered
  not_found,            ///< no such record
  handler_failed,       ///< an actor's handler returned an error or threw
  shutting_down,        ///< the node is stopping and accepts nothing new
  deadline_exceeded,    ///< the envelope's deadline passed before it could run
  escalated,            ///< a supervisor exceeded its restart intensity
  conflict,             ///< the request contradicts the record's state
  input_required,       ///< a tool asked its client something not answered yet (MCP round)
  invalid_payload,      ///< a payload does not match its declared message type
  unavailable,          ///< a service the node needs (etcd, a peer) does not answer; retry later
  shard_not_owned, ///< this node does not own (or has frozen) the actor's shard: nothing written
};

/// Returns the stable, human-readable name of `x` (`"busy"`, ...).
const char* to_string(errc x);

/// Builds a `caf::error` in the cairn category with a human detail message.
caf::error make_error(errc code, std::string detail = {});

/// Returns the cairn code of `err`, or `errc::none` for errors of other categories.
errc code_of(const caf::error& err);

/// False for failures that another attempt cannot fix: malformed input
/// (`invalid_argument`, `invalid_payload`), records that do not decode
/// (`corrupt_record`) and passed deadlines. A step failing with one of these
/// goes straight to dead letters instead of being retried.
bool retryable(const caf::error& err);

/// Renders any error, cairn or not, as `"code: detail"` for logs and users.
std::string render(const caf::error& err);

/// The human detail of a cairn error, without its code (for messages that
/// name the failure in their own words).
std::string detail_of(const caf::error& err);

/// Marks an error as deliberately ignored: explicit and greppable, like
/// RocksDB's `PermitUncheckedError()`.
inline void ignore_error(const caf::error&) noexcept {}

} // namespace cairn
