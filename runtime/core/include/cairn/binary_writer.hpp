// SPDX-License-Identifier: Apache-2.0
#pragma once
// CAF's binary encoding, written without CAF's serializer: the same bytes
// for every value, in a fraction of the instructions (no virtual call, no
// `caf::error` and no vector insert per member). `encode()` uses it.
//
// It writes the types records are made of itself: bool, integers, enums,
// float and double (an infinity too, which CAF's own packing never returns
// from), `std::string`, containers, pairs, `caf::optional` and
// any type with an `inspect()`. Anything else (CAF's own handles, tuples,
// arrays, durations, `std::vector<bool>`, types with `serialize()`) is
// handed to CAF's serializer and its bytes appended, so the result is
// CAF's for every type CAF can write. tests/unit/binary_writer_test.cpp
// compares the two byte for byte.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/detail/ieee_754.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/meta/annotation.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/save_callback.hpp>
#include <caf/type_nr.hpp>

namespace cairn::detail {

template <class T>
struct is_std_pair : std::false_type {};
template <class A, class B>
struct is_std_pair<std::pair<A, B>> : std::true_type {};

/// Types whose encoding only CAF's serializer knows here: its own handles
/// and messages (builtin type numbers that are not standard containers),
/// types with `serialize()`, and the few shapes this writer leaves alone.
template <class T>
constexpr bool caf_writes_only() {
  using odd_shape = std::disjunction<std::is_same<T, std::vector<bool>>,
                                     std::is_same<T, long double>, caf::detail::has_serialize<T>>;
  using std_container =
    std::disjunction<std::is_same<T, std::string>, std::is_same<T, std::vector<std::string>>,
                     std::is_same<T, std::set<std::string>>,
                     std::is_same<T, std::map<std::string, std::string>>>;
  if constexpr (odd_shape::value)
    return true;
  else if constexpr (std::is_class_v<T>)
    return caf::type_nr<T>::value != 0 && !std_container::value;
  else
    return false;
}

/// A CAF inspector (it reads the value) that appends CAF's binary encoding
/// of what it is given to a byte buffer.
class binary_writer {
public:
  using result_type = caf::error;             ///< what `inspect()` returns to CAF
  static constexpr bool reads_state = true;   ///< CAF trait: reads the inspected value
  static constexpr bool writes_state = false; ///< CAF trait: never changes it

  /// Writes into `buf` from offset `at`, growing it as needed; `size()` is
  /// how far it wrote (the buffer past it holds no meaning).
  binary_writer(std::string& buf, size_t at) noexcept : buf_(buf), at_(at) {}

  /// Writes each of `xs` in turn, as CAF's serializer would: annotations
  /// write nothing, save callbacks run (their error stops the writing).
  template <class... Ts>
  caf::error operator()(Ts&&... xs) {
    caf::error result;
    (one(std::forward<Ts>(xs), result) && ...);
    return result;
  }

  /// Bytes written so far, counting from the start of the buffer.
  size_t size() const noexcept { return at_; }

  /// Appends one value.
  template <class T>
  void apply(const T& x) {
    if constexpr (caf_writes_only<T>()) {
      through_caf(x);
    } else if constexpr (std::is_same_v<T, bool>) {
      auto b = static_cast<uint8_t>(x ? 1 : 0);
      raw(&b, 1);
    } else if constexpr (std::is_integral_v<T>) {
      integer(static_cast<std::make_unsigned_t<T>>(x));
    } else if constexpr (std::is_enum_v<T>) {
      apply(static_cast<std::underlying_type_t<T>>(x));
    } else if constexpr (std::is_floating_point_v<T>) {
      // CAF's packing never returns for an infinity (it halves it until it
      // is below two); its IEEE-754 bits are what CAF's reading turns back
      // into one. Every other value is packed as CAF packs it.
      using bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
      if (std::isinf(x))
        integer(std::bit_cast<bits>(x));
      else
        integer(caf::detail::pack754(x));
    } else if constexpr (std::is_same_v<T, std::string>) {
      length(x.size());
      raw(x.data(), x.size());
    } else if constexpr (has_inspect<T>::value) {
      static_cast<void>(inspect(*this, const_cast<T&>(x)));
    } else if constexpr (is_std_pair<T>::value) {
      apply(x.first);
      apply(x.second);
    } else if constexpr (caf::detail::is_iterable<T>::value && !is_std_array<T>::value) {
      length(x.size());
      for (const auto& e : x)
        apply(e);
    } else {
      through_caf(x);
    }
  }

private:
  template <class T, class = void>
  struct has_inspect : std::false_type {};
  template <class T>
  struct has_inspect<
    T, std::void_t<decltype(inspect(std::declval<binary_writer&>(), std::declval<T&>()))>>
    : std::true_type {};
  template <class T>
  struct is_std_array : std::false_type {};
  template <class T, size_t N>
  struct is_std_array<std::array<T, N>> : std::true_type {};

  template <class T>
  bool one(T&& x, caf::error& result) {
    using type = std::decay_t<T>;
    if constexpr (caf::meta::is_save_callback<type>::value) {
      if (auto err = x.fun()) {
        result = std::move(err);
        return false;
      }
    } else if constexpr (caf::meta::is_load_callback<type>::value
                         || caf::meta::is_annotation<type>::value
                         || caf::allowed_unsafe_message_type<type>::value) {
      // nothing to write
    } else {
      apply(x);
    }
    return true;
  }

  // Network byte order, as CAF writes every wider integer.
  template <class U>
  void integer(U x) {
    if constexpr (sizeof(U) == 1) {
      raw(&x, 1);
    } else {
      if constexpr (sizeof(U) == 2)
        x = __builtin_bswap16(x);
      else if constexpr (sizeof(U) == 4)
        x = __builtin_bswap32(x);
      else
        x = __builtin_bswap64(x);
      raw(&x, sizeof(U));
    }
  }

  // A sequence's length: seven bits a byte, low first, of its 32 low bits.
  void length(size_t n) {
    auto x = static_cast<uint32_t>(n);
    reserve(5);
    auto* p = reinterpret_cast<uint8_t*>(buf_.data() + at_);
    while (x > 0x7f) {
      *p++ = static_cast<uint8_t>((x & 0x7f) | 0x80);
      x >>= 7;
    }
    *p++ = static_cast<uint8_t>(x);
    at_ = static_cast<size_t>(reinterpret_cast<char*>(p) - buf_.data());
  }

  void raw(const void* p, size_t n) {
    reserve(n);
    std::memcpy(buf_.data() + at_, p, n);
    at_ += n;
  }

  void reserve(size_t n) {
    if (buf_.size() - at_ < n)
      buf_.resize(std::max(buf_.size() * 2, at_ + n + 64));
  }

  template <class T>
  void through_caf(const T& x) {
    std::vector<char> bytes;
    caf::binary_serializer sink{nullptr, bytes};
    static_cast<void>(sink(const_cast<T&>(x)));
    raw(bytes.data(), bytes.size());
  }

  std::string& buf_;
  size_t at_;
};

} // namespace cairn::detail
