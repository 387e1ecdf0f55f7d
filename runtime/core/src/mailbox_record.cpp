// SPDX-License-Identifier: Apache-2.0
// A new mailbox row's bytes, written by hand for the commit writer (see
// `encode_new_mailbox_record` in commit_coordinator.hpp).
#include <cstring>

#include "internal/commit_coordinator.hpp"

namespace cairn::internal {

namespace {

/// Bytes `put_length` writes for `n`: CAF's varbyte encoding of a sequence's size.
size_t length_size(size_t n) {
  size_t bytes = 1;
  for (auto x = static_cast<uint32_t>(n); x > 0x7f; x >>= 7)
    ++bytes;
  return bytes;
}

char* put_length(char* out, size_t n) {
  auto x = static_cast<uint32_t>(n); // as CAF writes a sequence's size
  while (x > 0x7f) {
    *out++ = static_cast<char>((x & 0x7f) | 0x80);
    x >>= 7;
  }
  *out++ = static_cast<char>(x);
  return out;
}

char* put_text(char* out, const std::string& s) {
  out = put_length(out, s.size());
  if (!s.empty())
    std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

template <class T>
char* put_big_endian(char* out, T value) {
  auto v = static_cast<uint64_t>(value);
  for (int shift = static_cast<int>(sizeof(T) - 1) * 8; shift >= 0; shift -= 8)
    *out++ = static_cast<char>((v >> shift) & 0xff);
  return out;
}

// Sized first, then written through a pointer: the accepting thread writes
// one per message (a capacity check a byte was a tenth of its work).
size_t new_record_size(const envelope& env) {
  const std::string* texts[] = {
    &env.id, &env.from, &env.to, &env.type, &env.payload, &env.traceparent, &env.idempotency_key};
  size_t size = 1 + sizeof(env.attempt) + sizeof(env.not_before_ms) + sizeof(env.deadline_ms)
                + sizeof(env.created_ms) + 2;
  for (const auto* t : texts)
    size += length_size(t->size()) + t->size();
  return size;
}

/// Writes the record of `env` at `p` (`new_record_size` bytes); returns its end.
char* put_new_record(char* p, const envelope& env) {
  p = put_text(p, env.id);
  p = put_text(p, env.from);
  p = put_text(p, env.to);
  p = put_text(p, env.type);
  *p++ = static_cast<char>(env.format);
  p = put_text(p, env.payload);
  p = put_text(p, env.traceparent);
  p = put_text(p, env.idempotency_key);
  p = put_big_endian(p, env.attempt);
  p = put_big_endian(p, env.not_before_ms);
  p = put_big_endian(p, env.deadline_ms);
  p = put_big_endian(p, env.created_ms);
  p = put_length(p, 0);    // attempt_ms
  return put_length(p, 0); // last_error
}

} // namespace

std::string encode_new_mailbox_record(const envelope& env) {
  std::string out(new_record_size(env), '\0');
  put_new_record(out.data(), env);
  return out;
}

record_block::record_block(const std::vector<envelope>& envs) {
  ends_.reserve(envs.size());
  size_t total = 0;
  for (const auto& env : envs) {
    total += new_record_size(env);
    ends_.push_back(total);
  }
  bytes_ = std::make_unique_for_overwrite<char[]>(total);
  char* p = bytes_.get();
  for (const auto& env : envs)
    p = put_new_record(p, env);
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
