// SPDX-License-Identifier: Apache-2.0
// The span value of layout 5 (internal/span_codec.hpp): written by every
// step, so it is built by hand into one string rather than serialized.
#include "internal/span_codec.hpp"

#include <algorithm>
#include <cstring>

#include "cairn/error.hpp"
#include "internal/keys.hpp"
#include "internal/span_wire.hpp"

namespace cairn::internal {

using namespace span_wire;

void encode_span(std::string& out, const span_record& s) {
  uint8_t flags = 0;
  flags |= s.parent_span_id.empty() ? 0 : has_parent;
  // A step's name is "process {type}": it is not stored twice.
  bool derived_name = !s.type.empty() && s.name == "process " + s.type;
  flags |= s.name.empty() || derived_name ? 0 : has_name;
  flags |= s.status_message.empty() ? 0 : has_message;
  flags |= s.actor.empty() && s.type.empty() && s.envelope_id.empty() ? 0 : has_step;
  flags |= s.attributes.empty() ? 0 : has_attributes;
  flags |= s.links.empty() ? 0 : has_links;
  put_head(out, flags, s.kind, s.status, s.start_us, s.end_us);
  if (flags & has_parent)
    put_id(out, s.parent_span_id);
  if (flags & has_name)
    put_str(out, s.name);
  if (flags & has_message)
    put_str(out, s.status_message);
  if (flags & has_step)
    put_step(out, s.actor, s.type, s.envelope_id, s.attempt, s.first_event, s.events, s.sent);
  if (flags & has_attributes) {
    put_varint(out, s.attributes.size());
    for (const auto& a : s.attributes) {
      put_str(out, a.key);
      out.push_back(static_cast<char>(a.value.index()));
      if (auto* str = std::get_if<std::string>(&a.value)) {
        put_str(out, *str);
      } else if (auto* i = std::get_if<int64_t>(&a.value)) {
        // zigzag: small negative numbers stay short
        put_varint(out, (static_cast<uint64_t>(*i) << 1) ^ static_cast<uint64_t>(*i >> 63));
      } else if (auto* d = std::get_if<double>(&a.value)) {
        uint64_t bits = 0;
        std::memcpy(&bits, d, sizeof bits);
        keys::append_be64(out, bits);
      } else {
        out.push_back(std::get<bool>(a.value) ? 1 : 0);
      }
    }
  }
  if (flags & has_links) {
    put_varint(out, s.links.size());
    for (const auto& l : s.links)
      put_link(out, l.trace_id, l.span_id, l.type);
  }
}

void encode_step_span(std::string& out, const step_span_view& v) {
  uint8_t flags = has_step;
  flags |= v.parent_span_id.empty() ? 0 : has_parent;
  flags |= v.resumed ? has_attributes : 0;
  flags |= v.retry_of.empty() && v.resumed_from.empty() ? 0 : has_links;
  put_head(out, flags, span_kind::consumer, span_status::ok, v.start_us, v.end_us);
  if (flags & has_parent)
    put_id(out, v.parent_span_id);
  static const std::vector<sent_view> none;
  put_step(out, v.actor, v.type, v.envelope_id, v.attempt, v.first_event, v.events,
           v.sent != nullptr ? *v.sent : none);
  if (flags & has_attributes) {
    put_varint(out, 1);
    put_str(out, "cairn.resumed");
    out.push_back(3); // the variant's index of bool
    out.push_back(1);
  }
  if (flags & has_links) {
    put_varint(out, (v.retry_of.empty() ? 0 : 1) + (v.resumed_from.empty() ? 0 : 1));
    if (!v.retry_of.empty())
      put_link(out, v.trace_id, v.retry_of, "retry_of");
    if (!v.resumed_from.empty())
      put_link(out, v.trace_id, v.resumed_from, "resumed_from");
  }
}

void append_to_group(std::string& out, std::string_view span_key, std::string_view value) {
  if (span_key.size() < 8 + keys::trace_id_size)
    return;
  append_member(out, keys::read_be64(span_key), span_key.substr(8, keys::trace_id_size),
                span_key.substr(8 + keys::trace_id_size), [&](std::string& o) { o.append(value); });
}

void append_span_member(std::string& out, const span_record& s) {
  append_member(out, static_cast<uint64_t>(std::max<int64_t>(s.end_us, 0)), s.trace_id, s.span_id,
                [&](std::string& o) { encode_span(o, s); });
}

caf::expected<span_record> decode_span(std::string_view key, std::string_view value) {
  auto bad = [&](const char* what) {
    return make_error(errc::corrupt_record, std::string{"span row does not decode: "} + what);
  };
  if (key.size() <= 8 + keys::trace_id_size)
    return bad("its key is too short");
  if (value.empty() || static_cast<uint8_t>(value[0]) != span_format)
    return bad("not a layout-5 span (written by an older build?)");
  span_record s;
  s.trace_id = key.substr(8, keys::trace_id_size);
  s.span_id = key.substr(8 + keys::trace_id_size);
  reader in{value.substr(1)};
  auto flags = in.byte();
  auto kind = in.byte();
  auto status = in.byte();
  if (kind < 1 || kind > 5 || status > 2)
    return bad("unknown kind or status");
  s.kind = static_cast<span_kind>(kind);
  s.status = static_cast<span_status>(status);
  s.start_us = static_cast<int64_t>(in.varint());
  s.end_us = s.start_us + static_cast<int64_t>(in.varint());
  if (flags & has_parent)
    s.parent_span_id = in.id();
  if (flags & has_name)
    s.name = in.str();
  if (flags & has_message)
    s.status_message = in.str();
  if (flags & has_step) {
    s.actor = in.str();
    s.type = in.str();
    s.envelope_id = in.id();
    s.attempt = static_cast<uint32_t>(in.varint());
    s.first_event = in.varint();
    s.events = static_cast<uint32_t>(in.varint());
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      sent_message m;
      m.id = in.id();
      m.to = in.str();
      m.type = in.str();
      s.sent.push_back(std::move(m));
    }
    if (s.name.empty() && !s.type.empty())
      s.name = "process " + s.type;
  }
  if (flags & has_attributes) {
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      span_attribute a;
      a.key = in.str();
      switch (in.byte()) {
        case 0: a.value = in.str(); break;
        case 1: {
          auto z = in.varint();
          a.value = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
          break;
        }
        case 2: a.value = in.f64(); break;
        case 3: a.value = in.byte() != 0; break;
        default: return bad("an attribute of unknown type");
      }
      s.attributes.push_back(std::move(a));
    }
  }
  if (flags & has_links) {
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      span_link l;
      l.trace_id = in.id();
      l.span_id = in.id();
      l.type = in.str();
      s.links.push_back(std::move(l));
    }
  }
  if (!in.ok())
    return bad("it ends early");
  return s;
}

} // namespace cairn::internal
