// SPDX-License-Identifier: Apache-2.0
#include "cairn/envelope.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "internal/derived_ids.hpp"

namespace cairn {

namespace {

uint64_t random_u64() {
  thread_local std::mt19937_64 gen{
    std::random_device{}()
    ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  return gen();
}

std::string hex(uint64_t value, int digits) {
  std::string out(static_cast<size_t>(digits), '0');
  internal::put_hex(out.data(), value, digits);
  return out;
}

// Both run over every traceparent a step reads: without branches per
// character (they were 9 % of the actor threads' samples in `cairn bench`).
bool is_hex(std::string_view s) {
  unsigned ok = 1;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    ok &= static_cast<unsigned>(static_cast<unsigned char>(u - '0') < 10)
          | static_cast<unsigned>(static_cast<unsigned char>(u - 'a') < 6);
  }
  return ok != 0;
}

bool all_zero(std::string_view s) {
  unsigned other = 0;
  for (char c : s)
    other |= static_cast<unsigned>(c ^ '0');
  return other == 0;
}

} // namespace

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

// 48 bits of milliseconds, then a 16-bit sequence within the millisecond,
// then 64 bits fixed per process (random) so two processes never collide.
// The first two are one 64-bit clock, `ms << 16 | seq`, advanced by one
// compare-and-swap: the next id is the later of "one after the last" and
// "this millisecond's first", so a full sequence borrows the next
// millisecond. (A mutex here cost every accepting thread a lock round.)
std::atomic<uint64_t> id_clock{0};

/// The process's tag, and its 16 hex digits written once (ids copy them).
struct id_tag {
  uint64_t value;
  std::array<char, 16> text;
};

const id_tag& process_tag() {
  static const id_tag tag = [] {
    id_tag t{random_u64(), {}};
    internal::put_hex64(t.text.data(), t.value);
    return t;
  }();
  return tag;
}

} // namespace

namespace internal {

uint64_t take_id_clocks(uint64_t n) {
  auto first = static_cast<uint64_t>(now_ms()) << 16;
  auto last = id_clock.load(std::memory_order_relaxed);
  uint64_t next;
  do
    next = std::max(last + 1, first);
  while (!id_clock.compare_exchange_weak(last, next + n - 1, std::memory_order_relaxed));
  return next;
}

uint64_t process_id_tag() {
  return process_tag().value;
}

std::string envelope_id_at(uint64_t clock) {
  std::string out(32, '0');
  put_hex64(out.data(), clock);
  const auto& tag = process_tag().text;
  std::copy(tag.begin(), tag.end(), out.begin() + 16);
  return out;
}

} // namespace internal

std::string next_envelope_id() {
  return internal::envelope_id_at(internal::take_id_clocks(1));
}

std::vector<std::string> next_envelope_ids(size_t n) {
  std::vector<std::string> out;
  if (n == 0)
    return out;
  out.reserve(n);
  auto first = internal::take_id_clocks(n);
  for (size_t k = 0; k < n; ++k)
    out.push_back(internal::envelope_id_at(first + k));
  return out;
}

bool traceparent_ids(std::string_view t, std::string_view& trace_id, std::string_view& span_id) {
  if (t.size() != 55 || t[2] != '-' || t[35] != '-' || t[52] != '-')
    return false;
  auto version = t.substr(0, 2), trace = t.substr(3, 32), span = t.substr(36, 16),
       flags = t.substr(53, 2);
  if (!is_hex(version) || version == "ff" || !is_hex(trace) || !is_hex(span) || !is_hex(flags)
      || all_zero(trace) || all_zero(span))
    return false;
  trace_id = trace;
  span_id = span;
  return true;
}

bool parse_traceparent(std::string_view t, trace_context& out) {
  std::string_view trace, span;
  if (!traceparent_ids(t, trace, span))
    return false;
  out.trace_id = std::string{trace};
  out.span_id = std::string{span};
  auto flags = t.substr(53, 2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  out.flags = static_cast<uint8_t>(nibble(flags[0]) * 16 + nibble(flags[1]));
  return true;
}

std::string format_traceparent(const trace_context& ctx) {
  std::string out;
  out.reserve(6 + ctx.trace_id.size() + ctx.span_id.size() + 2);
  out.append("00-").append(ctx.trace_id).append("-").append(ctx.span_id).append("-");
  out.append(hex(ctx.flags, 2));
  return out;
}

std::string new_traceparent() {
  // As new_trace() draws its ids (the trace id's first half and the span
  // id odd, so never zero), straight into the 55 characters.
  std::string out = "00-00000000000000000000000000000000-0000000000000000-01";
  auto put = [&out](size_t at, uint64_t v) {
    for (size_t i = at + 16; i-- > at; v >>= 4)
      out[i] = "0123456789abcdef"[v & 0xf];
  };
  put(3, random_u64() | 1);
  put(19, random_u64());
  put(36, random_u64() | 1);
  return out;
}

trace_context new_trace() {
  trace_context ctx;
  ctx.trace_id = hex(random_u64() | 1, 16) + hex(random_u64(), 16);
  ctx.span_id = hex(random_u64() | 1, 16);
  return ctx;
}

trace_context child_of(std::string_view parent) {
  trace_context ctx;
  if (!parse_traceparent(parent, ctx))
    return new_trace();
  ctx.span_id = hex(random_u64() | 1, 16);
  return ctx;
}

std::string step_span_id(std::string_view envelope_id, uint32_t attempt) {
  // Envelope ids are unique, so the span ids are too (up to 64-bit
  // collisions).
  return hex(internal::step_span_value(envelope_id, attempt), 16);
}

std::string_view kind_of(std::string_view actor_id) {
  auto pos = actor_id.find('/');
  return pos == std::string_view::npos ? actor_id : actor_id.substr(0, pos);
}

bool valid_actor_id(std::string_view id) {
  auto pos = id.find('/');
  return pos != std::string_view::npos && pos > 0 && pos + 1 < id.size()
         && id.find('\0') == std::string_view::npos && id.size() <= 1024;
}

} // namespace cairn
