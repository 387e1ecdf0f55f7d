// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/expected.hpp>
#include <caf/meta/annotation.hpp>

#include "cairn/binary_writer.hpp"
#include "cairn/error.hpp"

namespace cairn {

/// Serializes any type with an `inspect()` overload in CAF's binary
/// encoding: the one encoding for memory, disk and wire. It is written by
/// `detail::binary_writer` (the same bytes as CAF's serializer) and read by
/// CAF's deserializer.
namespace detail {
/// The writer's buffer, kept per thread between calls so a record is
/// written without growing a fresh buffer step by step. An `encode` inside
/// an `inspect()` finds it taken (moved out) and uses a fresh one.
inline thread_local std::string encode_buffer;
} // namespace detail

/// Serializes `values` one after the other, as an `inspect()` listing them
/// in this order would (CAF's binary inspectors write no names).
template <class... Ts>
std::string encode_all(const Ts&... values) {
  std::string buf = std::move(detail::encode_buffer);
  if (buf.size() < 256)
    buf.resize(256);
  detail::binary_writer sink{buf, 0};
  static_cast<void>(sink(values...)); // writing to memory cannot fail
  std::string out{buf.data(), sink.size()};
  if (buf.size() <= (64u << 10)) // a huge record does not stay behind
    detail::encode_buffer = std::move(buf);
  return out;
}

template <class T>
std::string encode(const T& value) {
  return encode_all(value);
}

/// Decodes bytes written by `encode<T>`; trailing or missing bytes are a
/// `corrupt_record` error, never undefined behaviour.
template <class T>
caf::expected<T> decode(std::string_view bytes) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  T value;
  if (auto err = source(value))
    return make_error(errc::corrupt_record, "cannot decode record: " + render(err));
  if (source.remaining() != 0)
    return make_error(errc::corrupt_record,
                      "record has " + std::to_string(source.remaining()) + " trailing bytes");
  return value;
}

/// Names the value after it in an `inspect()` for JSON, where a message is
/// an object with named fields:
///
///     return f(caf::meta::type_name("order"), field{"customer"}, x.customer,
///              field{"sku"}, x.sku);
///
/// CAF's binary inspectors skip annotations: adding names never changes the
/// stored bytes.
struct field : caf::meta::annotation {
  /// Names the next value `n` (a string literal: it is not copied).
  constexpr explicit field(const char* n) : name(n) {}
  const char* name; ///< the JSON member name of the value that follows
};

/// Associates a C++ message or event type with its versioned type tag.
/// Specialize through `CAIRN_MESSAGE_TYPE(T, "tag/v1")`.
template <class T>
struct type_tag;

} // namespace cairn

/// Declares the stable, versioned tag under which `T` is stored and routed.
#define CAIRN_MESSAGE_TYPE(T, TAG)                                                                 \
  template <>                                                                                      \
  struct cairn::type_tag<T> {                                                                      \
    static constexpr const char* value = TAG;                                                      \
  }
