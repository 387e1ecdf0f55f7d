// SPDX-License-Identifier: Apache-2.0
// A new mailbox row's bytes, written by hand for the commit writer (see
// `encode_new_mailbox_record` in commit_coordinator.hpp).
#include "internal/commit_coordinator.hpp"

namespace cairn::internal {

namespace {

void put_length(std::string& out, size_t n) {
  auto x = static_cast<uint32_t>(n); // as CAF writes a sequence's size
  while (x > 0x7f) {
    out.push_back(static_cast<char>((x & 0x7f) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

void put_text(std::string& out, const std::string& s) {
  put_length(out, s.size());
  out.append(s);
}

template <class T>
void put_big_endian(std::string& out, T value) {
  auto v = static_cast<uint64_t>(value);
  for (int shift = static_cast<int>(sizeof(T) - 1) * 8; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

} // namespace

std::string encode_new_mailbox_record(const envelope& env) {
  std::string out;
  out.reserve(env.id.size() + env.from.size() + env.to.size() + env.type.size() + env.payload.size()
              + env.traceparent.size() + env.idempotency_key.size() + 64);
  put_text(out, env.id);
  put_text(out, env.from);
  put_text(out, env.to);
  put_text(out, env.type);
  out.push_back(static_cast<char>(env.format));
  put_text(out, env.payload);
  put_text(out, env.traceparent);
  put_text(out, env.idempotency_key);
  put_big_endian(out, env.attempt);
  put_big_endian(out, env.not_before_ms);
  put_big_endian(out, env.deadline_ms);
  put_big_endian(out, env.created_ms);
  put_length(out, 0); // attempt_ms
  put_length(out, 0); // last_error
  return out;
}

std::string_view mailbox_record_to(std::string_view record) {
  size_t at = 0;
  auto text = [&]() -> std::string_view {
    uint32_t n = 0;
    for (int shift = 0; at < record.size() && shift < 35; shift += 7) {
      auto b = static_cast<uint8_t>(record[at++]);
      n |= static_cast<uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (record.size() - at < n)
          break;
        auto out = record.substr(at, n);
        at += n;
        return out;
      }
    }
    at = record.size();
    return record.substr(at); // empty, but still a view into `record`
  };
  text(); // id
  text(); // from
  return text();
}

} // namespace cairn::internal
