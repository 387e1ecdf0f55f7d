// SPDX-License-Identifier: Apache-2.0
#include "cairn/error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace cairn {

namespace {
constexpr caf::atom_value category = caf::atom("cairn");
} // namespace

const char* to_string(errc x) {
  switch (x) {
    case errc::none: return "none";
    case errc::busy: return "busy";
    case errc::storage_write_failed: return "storage_write_failed";
    case errc::storage_read_failed: return "storage_read_failed";
    case errc::storage_open_failed: return "storage_open_failed";
    case errc::storage_in_use: return "storage_in_use";
    case errc::unknown_layout: return "unknown_layout";
    case errc::corrupt_record: return "corrupt_record";
    case errc::invalid_argument: return "invalid_argument";
    case errc::unknown_actor_kind: return "unknown_actor_kind";
    case errc::not_found: return "not_found";
    case errc::handler_failed: return "handler_failed";
    case errc::shutting_down: return "shutting_down";
    case errc::deadline_exceeded: return "deadline_exceeded";
    case errc::escalated: return "escalated";
    case errc::conflict: return "conflict";
    case errc::input_required: return "input_required";
    case errc::invalid_payload: return "invalid_payload";
    case errc::unavailable: return "unavailable";
    case errc::shard_not_owned: return "shard_not_owned";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), category, caf::make_message(std::move(detail))};
}

errc code_of(const caf::error& err) {
  if (!err || err.category() != category)
    return errc::none;
  return static_cast<errc>(err.code());
}

bool retryable(const caf::error& err) {
  switch (code_of(err)) {
    case errc::invalid_argument:
    case errc::invalid_payload:
    case errc::corrupt_record:
    case errc::deadline_exceeded: return false;
    default: return true;
  }
}

std::string render(const caf::error& err) {
  if (!err)
    return "ok";
  std::string out;
  if (err.category() == category) {
    out = to_string(static_cast<errc>(err.code()));
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
      const auto& detail = ctx.get_as<std::string>(0);
      if (!detail.empty()) {
        out += ": ";
        out += detail;
      }
    }
    return out;
  }
  if (err.category() == caf::atom("system"))
    return "caf: " + caf::to_string(static_cast<caf::sec>(err.code()));
  return "error " + std::to_string(err.code()) + " in category " + caf::to_string(err.category());
}

std::string detail_of(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return render(err);
}

} // namespace cairn
