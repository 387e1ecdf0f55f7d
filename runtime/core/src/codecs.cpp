// SPDX-License-Identifier: Apache-2.0
// Message types at the node's edge: the codec a kind takes a message type
// from outside with, and a stored payload shown as JSON.
#include "internal/runtime_impl.hpp"

namespace cairn {

caf::expected<const message_codec*> runtime::edge_codec(std::string_view kind,
                                                        std::string_view type) {
  auto& d = *impl_;
  // Once the node accepts, kinds are frozen (no entry is replaced): the
  // thread's cache of kinds, as accepting uses, with no lock per message.
  // Before, a registration may replace the entry: read it under the lock.
  const kind_entry* entry = nullptr;
  std::shared_lock<std::shared_mutex> guard{d.kinds_mtx, std::defer_lock};
  if (d.accepting.load()) {
    entry = d.find_kind(kind);
  } else {
    guard.lock();
    auto it = d.kinds.find(std::string{kind});
    entry = it == d.kinds.end() ? nullptr : it->second.get();
  }
  if (entry == nullptr)
    return make_error(errc::unknown_actor_kind,
                      "no actor kind '" + std::string{kind} + "' is registered");
  if (const auto& door = entry->opts.closed_door; !door.empty())
    return make_error(errc::invalid_argument, "actor kind '" + std::string{kind}
                                                + "' takes no messages from outside: " + door);
  const auto& accepts = entry->opts.accepts;
  if (accepts.empty())
    return nullptr;
  std::string names;
  for (const auto& c : accepts) {
    if (c.type == type)
      return &c; // entries are never replaced while the node runs
    names += names.empty() ? "" : ", ";
    names += c.type;
  }
  return make_error(errc::invalid_argument, "actor kind '" + std::string{kind}
                                              + "' does not accept message type '"
                                              + std::string{type} + "'; it accepts " + names);
}

std::optional<std::string> runtime::payload_json(std::string_view type, uint8_t format,
                                                 std::string_view payload) {
  if (format == static_cast<uint8_t>(payload_format::json))
    return std::string{payload};
  std::function<caf::expected<std::string>(std::string_view)> to_json;
  {
    std::shared_lock<std::shared_mutex> guard{impl_->kinds_mtx};
    auto it = impl_->codecs.find(std::string{type});
    if (it == impl_->codecs.end())
      return std::nullopt;
    to_json = it->second.to_json;
  }
  auto text = to_json(payload);
  if (!text)
    return std::nullopt;
  return std::move(*text);
}

} // namespace cairn
