// SPDX-License-Identifier: Apache-2.0
#pragma once
// JSON read straight from its text, for the hot paths that would otherwise
// build a tree only to read it once: a strict pull cursor over the text, and
// a CAF inspector on it that reads a typed message whose fields come in their
// declared order.
//
// Both only ever succeed or decline. Whatever they are unsure of — a field
// out of order, an unknown or repeated key, a number with a fraction or an
// exponent, a lone surrogate, text that is not JSON — makes them decline, and
// the caller reads the same text through the tree (`json_codec.hpp`), which
// decides and words every error. So the two readers agree by construction
// wherever the fast one answers; tests compare them on mutated inputs.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/meta/annotation.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/optional.hpp>

#include "cairn/codec.hpp"

namespace cairn::json {

/// A strict pull cursor over JSON text (RFC 8259, as Boost.JSON reads it by
/// default: no comments, no trailing commas, UTF-8 checked). Each read
/// skips the whitespace before its token. A read that finds what it cannot
/// take with certainty declines: it returns false and the cursor stays
/// declined (`ok()` is false) for good.
class text_cursor {
public:
  /// Deepest nesting the cursor opens (Boost.JSON refuses more than 32
  /// levels in a whole document; a caller reading part of one leaves room).
  static constexpr int max_depth = 24;

  /// Reads `text`, which must outlive the cursor.
  explicit text_cursor(std::string_view text) noexcept : text_(text) {}

  /// Whether nothing declined so far.
  bool ok() const noexcept { return ok_; }
  /// Declines from here on; returns false.
  bool decline() noexcept {
    ok_ = false;
    return false;
  }
  /// The offset of the next byte to read.
  size_t pos() const noexcept { return at_; }
  /// Moves back to `pos` (taken from `pos()` before a read that may not fit).
  void seek(size_t pos) noexcept { at_ = pos; }
  /// The whole text.
  std::string_view text() const noexcept { return text_; }

  /// Whether the next token starts with `c` (does not take it).
  bool at(char c) noexcept;
  /// Takes `c` if it is the next token; false (not declined) if not.
  bool take(char c) noexcept;
  /// Takes `c`, or declines.
  bool expect(char c) noexcept;
  /// Only whitespace is left.
  bool at_end() noexcept;

  /// Opens an object (`{`) or array (`[`), counting depth; declines past
  /// `max_depth`.
  bool open(char c) noexcept;
  /// Closes what `open` opened (`}` or `]`), or declines.
  bool close(char c) noexcept;

  /// A string, unescaped into `out`.
  bool string(std::string& out);
  /// A string without escapes, as a view of the text (the common case for
  /// keys); declines on an escape — use `string` for those.
  bool plain_string(std::string_view& out) noexcept;
  /// `true` or `false`.
  bool boolean(bool& out) noexcept;
  /// `null`: takes it and returns true; false (not declined) if the next
  /// token is something else.
  bool null() noexcept;
  /// An integer as Boost.JSON reads one (an int64, or a uint64 above
  /// int64's range): its magnitude and sign. Declines on a fraction, an
  /// exponent, `-0` and any value Boost.JSON would read as a double.
  bool integer(uint64_t& magnitude, bool& negative) noexcept;
  /// Where `next_member` left the cursor.
  enum class member { here, absent, declined };
  /// In an object read member by member: takes `,` (unless `first`), the key
  /// `"name"` exactly as written (no escapes) and the colon after it, and
  /// says `here`. `absent`, with the cursor where it was, when the object
  /// ends there or another member comes; `declined` on a missing `,` or `:`.
  member next_member(std::string_view name, bool first) noexcept;
  /// An object member's key and the colon after it: a view of the text,
  /// or of `scratch` when the key has escapes.
  bool member_key(std::string_view& out, std::string& scratch);
  /// Checks and skips one value of any kind.
  bool skip_value();
  /// Skips whitespace; false at the end of the text.
  bool skip_ws() noexcept { return ws(); }

private:
  bool ws() noexcept;
  bool literal(std::string_view word) noexcept;

  std::string_view text_;
  size_t at_ = 0;
  int depth_ = 0;
  bool ok_ = true;
};

/// How many bytes from `p` (of `n`) are plain string bytes: printable ASCII
/// other than '"' and '\\', which a JSON string holds as they are. Sixteen
/// or eight at a time.
size_t plain_run(const char* p, size_t n) noexcept;

namespace detail {

// The containers both JSON readers map (json_codec.hpp has the tree's).
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_optional<caf::optional<T>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};

template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};

} // namespace detail

template <class T>
bool read_text(text_cursor& in, T& out);

/// A CAF inspector that reads a typed message from JSON text whose fields
/// come in their declared order (optional ones may be missing or null). It
/// declines on anything else — see the top of this file.
class text_reader {
public:
  using result_type = caf::error;            ///< what `inspect()` returns to CAF
  static constexpr bool reads_state = false; ///< CAF trait: does not read the value
  static constexpr bool writes_state = true; ///< CAF trait: overwrites the inspected value

  /// Reads from `in`, at the start of an object; `in` must outlive the reader.
  explicit text_reader(text_cursor& in) noexcept : in_(in) {}

  /// Reads the object whose members are `xs`' fields, in order; declines
  /// (through the cursor) on anything else. Never an error of its own.
  template <class... Ts>
  caf::error operator()(Ts&&... xs) {
    if (!in_.open('{'))
      return {};
    (one(std::forward<Ts>(xs)), ...);
    if (in_.ok())
      in_.close('}'); // a member left over: an unknown field, or one repeated
    return {};
  }

private:
  template <class T>
  void one(T&& x) {
    using type = std::decay_t<T>;
    if (!in_.ok())
      return;
    if constexpr (std::is_same_v<type, field>) {
      pending_ = x.name;
    } else if constexpr (caf::meta::is_load_callback<type>::value) {
      if (x.fun())
        in_.decline(); // the tree's reader words the error
    } else if constexpr (caf::meta::is_annotation<type>::value) {
      // nothing to read
    } else {
      if (pending_ == nullptr) {
        in_.decline(); // values without names: the tree's reader takes arrays
        return;
      }
      std::string_view name{pending_};
      pending_ = nullptr;
      auto at = in_.next_member(name, first_);
      if (at == text_cursor::member::declined)
        return;
      if (at == text_cursor::member::absent) {
        if constexpr (detail::is_optional<type>::value)
          x = type{};
        else
          in_.decline(); // missing, or not in its declared place
        return;
      }
      first_ = false;
      read_text(in_, x);
    }
  }

  text_cursor& in_;
  const char* pending_ = nullptr;
  bool first_ = true;
};

/// Reads one value of type `T` (the types `json_codec.hpp` maps) from `in`;
/// false if the cursor declined.
template <class T>
bool read_text(text_cursor& in, T& out) {
  using type = std::decay_t<T>;
  if constexpr (std::is_same_v<type, bool>) {
    return in.boolean(out);
  } else if constexpr (std::is_enum_v<type>) {
    std::underlying_type_t<type> raw{};
    if (!read_text(in, raw))
      return false;
    out = static_cast<type>(raw);
    return true;
  } else if constexpr (std::is_integral_v<type>) {
    uint64_t mag = 0;
    bool neg = false;
    if (!in.integer(mag, neg))
      return false;
    if constexpr (std::is_signed_v<type>) {
      // The magnitude of type's minimum is its maximum plus one.
      auto limit = static_cast<uint64_t>(std::numeric_limits<type>::max()) + (neg ? 1U : 0U);
      if (mag > limit)
        return in.decline();
      out = neg ? static_cast<type>(-static_cast<int64_t>(mag - 1) - 1) : static_cast<type>(mag);
    } else {
      if (neg || mag > std::numeric_limits<type>::max())
        return in.decline();
      out = static_cast<type>(mag);
    }
    return true;
  } else if constexpr (std::is_floating_point_v<type>) {
    // Integers only: the caller reads a payload with any double in it the tree's way.
    uint64_t mag = 0;
    bool neg = false;
    if (!in.integer(mag, neg))
      return false;
    if (neg)
      out = static_cast<type>(-static_cast<int64_t>(mag - 1) - 1);
    else if (mag <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      out = static_cast<type>(static_cast<int64_t>(mag));
    else
      out = static_cast<type>(mag);
    return true;
  } else if constexpr (std::is_same_v<type, std::string>) {
    return in.string(out);
  } else if constexpr (detail::is_optional<type>::value) {
    if (in.null()) {
      out = type{};
      return true;
    }
    std::decay_t<decltype(*out)> inner{};
    if (!read_text(in, inner))
      return false;
    out = std::move(inner);
    return true;
  } else if constexpr (detail::is_vector<type>::value) {
    out.clear();
    if (!in.open('['))
      return false;
    if (in.at(']'))
      return in.close(']');
    do {
      typename type::value_type e{};
      if (!read_text(in, e))
        return false;
      out.push_back(std::move(e));
    } while (in.take(','));
    return in.close(']');
  } else if constexpr (detail::is_string_map<type>::value) {
    out.clear();
    if (!in.open('{'))
      return false;
    if (in.at('}'))
      return in.close('}');
    do {
      std::string key;
      if (!in.string(key) || !in.expect(':'))
        return false;
      if (out.count(key) != 0)
        return in.decline(); // a repeated key: the tree's parser decides which wins
      typename type::mapped_type e{};
      if (!read_text(in, e))
        return false;
      out.emplace(std::move(key), std::move(e));
    } while (in.take(','));
    return in.close('}');
  } else if constexpr (detail::is_pair<type>::value) {
    return in.open('[') && read_text(in, out.first) && in.expect(',') && read_text(in, out.second)
           && in.close(']');
  } else {
    text_reader r{in};
    static_cast<void>(inspect(r, out));
    return in.ok();
  }
}

/// Reads a whole text as one `T`; false if the cursor declined or
/// anything but whitespace follows.
template <class T>
bool from_text(std::string_view text, T& out) {
  text_cursor in{text};
  return read_text(in, out) && in.at_end();
}

} // namespace cairn::json
