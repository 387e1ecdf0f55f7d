// SPDX-License-Identifier: Apache-2.0
#pragma once
// JSON for typed messages and events, from the same `inspect()` that gives
// their binary encoding. Field names come from `cairn::field` annotations
// (codec.hpp); a type without names is a JSON array of its values.
//
//     struct order { std::string customer; uint32_t qty; };
//     template <class Inspector>
//     typename Inspector::result_type inspect(Inspector& f, order& x) {
//       return f(caf::meta::type_name("order"), field{"customer"}, x.customer,
//                field{"qty"}, x.qty);
//     }
//     kind_options ko;
//     ko.accepts.push_back(json::codec_for<order>()); // {"customer":"c1","qty":2}
//
// Reading is strict: a missing field, a field of the wrong JSON type, a
// number out of range and an unknown field are each an `invalid_payload`
// error naming the field (`payload.qty: expected an unsigned integer, got
// "two"`). Only `caf::optional` members (CAF 0.17 stores no `std::optional`)
// may be missing or null.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>
#include <caf/meta/annotation.hpp>
#include <caf/meta/save_callback.hpp>
#include <caf/optional.hpp>

#include "cairn/codec.hpp"
#include "cairn/error.hpp"
#include "cairn/json_text.hpp"
#include "cairn/runtime.hpp"

namespace cairn::json {

namespace detail {

/// "got a string", for errors.
std::string describe(const boost::json::value& v);

/// Where a value sits in what is read (`payload.ship_to.city`,
/// `payload.skus[1]`): a chain of links on the readers' stack, written out
/// as text only when an error names it, so reading a valid value builds none.
struct path {
  static constexpr size_t no_index = static_cast<size_t>(-1);
  const path* parent = nullptr; ///< none at the root
  std::string_view name;        ///< the root's text, or a member's name
  size_t index = no_index;      ///< an element's position instead of a name
  std::string text() const;
};

caf::error mismatch(const path& at, const char* expected, const boost::json::value& v);

template <class T>
caf::error read(const boost::json::value& v, T& out, const path& at);

} // namespace detail

class writer;
class reader;

template <class T, class = void>
struct has_inspect : std::false_type {};
template <class T>
struct has_inspect<T, std::void_t<decltype(inspect(std::declval<writer&>(), std::declval<T&>()))>>
  : std::true_type {};

/// The JSON of one value of a type with `inspect()`.
template <class T>
boost::json::value to_value(const T& x);

/// Reads `out` from `v`; errors name `path` and the field below it.
template <class T>
caf::error from_value(const boost::json::value& v, T& out, const std::string& path);

/// A CAF inspector that writes a value as JSON (an object when its fields
/// are named, else an array).
class writer {
public:
  using result_type = caf::error;             ///< what `inspect()` returns to CAF
  static constexpr bool reads_state = true;   ///< CAF trait: reads the inspected value
  static constexpr bool writes_state = false; ///< CAF trait: never changes it

  /// Writes each of `xs` in turn (a `field` names the value after it); stops
  /// at the first error.
  template <class... Ts>
  caf::error operator()(Ts&&... xs) {
    caf::error err;
    (one(std::forward<Ts>(xs), err), ...);
    return err;
  }

  /// What was written: an object if any field had a name, else an array.
  boost::json::value result();

private:
  template <class T>
  void one(T&& x, caf::error& err) {
    using type = std::decay_t<T>;
    if (err)
      return;
    if constexpr (std::is_same_v<type, field>) {
      pending_ = x.name;
    } else if constexpr (caf::meta::is_save_callback<type>::value) {
      err = x.fun();
    } else if constexpr (caf::meta::is_annotation<type>::value) {
      // type names, load callbacks, formatting hints: nothing to write
    } else {
      items_.emplace_back(pending_, to_value(x));
      pending_ = nullptr;
    }
  }

  std::vector<std::pair<const char*, boost::json::value>> items_;
  const char* pending_ = nullptr;
};

/// A CAF inspector that reads a value from JSON, strictly.
class reader {
public:
  using result_type = caf::error;            ///< what `inspect()` returns to CAF
  static constexpr bool reads_state = false; ///< CAF trait: does not read the value
  static constexpr bool writes_state = true; ///< CAF trait: overwrites the inspected value

  /// Reads from `in` (an object or an array); errors name `at` and the field
  /// below it. Both are kept by reference: they must outlive the reader.
  reader(const boost::json::value& in, const detail::path& at) : in_(in), at_(at) {}

  /// Reads each of `xs` in turn: from an object, the member its `field`
  /// names (`_N` for the N-th value when unnamed); from an array, by
  /// position. A missing one is an error unless the value is optional.
  /// Stops at the first error.
  template <class... Ts>
  caf::error operator()(Ts&&... xs) {
    if (!in_.is_object() && !in_.is_array())
      return detail::mismatch(at_, "an object", in_);
    caf::error err;
    (one(std::forward<Ts>(xs), err), ...);
    return err;
  }

  /// After `inspect`: an object with keys no field consumed, or an array
  /// with extra elements, is an error.
  caf::error finish() const;

private:
  template <class T>
  void one(T&& x, caf::error& err) {
    using type = std::decay_t<T>;
    if (err)
      return;
    if constexpr (std::is_same_v<type, field>) {
      pending_ = x.name;
    } else if constexpr (caf::meta::is_load_callback<type>::value) {
      err = x.fun();
    } else if constexpr (caf::meta::is_annotation<type>::value) {
      // nothing to read
    } else {
      std::string unnamed; // `_N`, for a value without a field name
      std::string_view name = pending_ != nullptr ? std::string_view{pending_} : std::string_view{};
      if (pending_ == nullptr) {
        unnamed = "_" + std::to_string(index_);
        name = unnamed;
      }
      pending_ = nullptr;
      auto pos = index_++;
      const boost::json::value* v = nullptr;
      detail::path here{&at_, name};
      if (in_.is_object()) {
        const auto& obj = in_.get_object();
        // Senders mostly write the fields in their declared order: the key at
        // this field's position is tried before a search (keys are unique).
        auto it =
          pos < obj.size() && obj.begin()[pos].key() == name ? obj.begin() + pos : obj.find(name);
        if (it != obj.end()) {
          v = &it->value();
          // Keys counted once: a name read twice must not stand for another key.
          if (!consumed(static_cast<size_t>(it - obj.begin())))
            ++found_;
        }
      } else {
        here = detail::path{&at_, {}, pos};
        if (pos < in_.get_array().size())
          v = &in_.get_array()[pos];
      }
      if (v == nullptr) {
        if constexpr (detail::is_optional<type>::value) {
          x = type{};
          return;
        } else {
          err = make_error(errc::invalid_payload, here.text() + ": missing");
          return;
        }
      }
      err = detail::read(*v, x, here);
    }
  }

  /// Marks the object's member at `pos` as read; whether it was already.
  bool consumed(size_t pos) {
    if (pos < 64) {
      bool was = (seen_ >> pos) & 1U;
      seen_ |= uint64_t{1} << pos;
      return was;
    }
    if (seen_more_.size() <= pos - 64)
      seen_more_.resize(pos - 63);
    bool was = seen_more_[pos - 64];
    seen_more_[pos - 64] = true;
    return was;
  }
  bool was_consumed(size_t pos) const {
    return pos < 64 ? ((seen_ >> pos) & 1U) != 0
                    : pos - 64 < seen_more_.size() && seen_more_[pos - 64];
  }

  const boost::json::value& in_;
  const detail::path& at_;
  const char* pending_ = nullptr;
  size_t index_ = 0;
  /// The object's members read, by position (the first 64 in a mask), and
  /// how many: all its keys when it equals its size.
  uint64_t seen_ = 0;
  std::vector<bool> seen_more_;
  size_t found_ = 0;
};

template <class T>
boost::json::value to_value(const T& x) {
  using type = std::decay_t<T>;
  if constexpr (std::is_same_v<type, bool>) {
    return boost::json::value(x);
  } else if constexpr (std::is_enum_v<type>) {
    return to_value(static_cast<std::underlying_type_t<type>>(x));
  } else if constexpr (std::is_integral_v<type> && std::is_signed_v<type>) {
    return boost::json::value(static_cast<int64_t>(x));
  } else if constexpr (std::is_integral_v<type>) {
    return boost::json::value(static_cast<uint64_t>(x));
  } else if constexpr (std::is_floating_point_v<type>) {
    return boost::json::value(static_cast<double>(x));
  } else if constexpr (std::is_same_v<type, std::string>) {
    return boost::json::value(boost::json::string_view{x.data(), x.size()});
  } else if constexpr (detail::is_optional<type>::value) {
    return x ? to_value(*x) : boost::json::value(nullptr);
  } else if constexpr (detail::is_vector<type>::value) {
    boost::json::array a;
    for (const auto& e : x)
      a.push_back(to_value(e));
    return a;
  } else if constexpr (detail::is_string_map<type>::value) {
    boost::json::object o;
    for (const auto& [k, v] : x)
      o[k] = to_value(v);
    return o;
  } else if constexpr (detail::is_pair<type>::value) {
    return boost::json::array{to_value(x.first), to_value(x.second)};
  } else {
    static_assert(has_inspect<type>::value, "no JSON mapping for this type: give it inspect()");
    writer w;
    static_cast<void>(inspect(w, const_cast<type&>(x)));
    return w.result();
  }
}

template <class T>
caf::error detail::read(const boost::json::value& v, T& out, const path& at) {
  using type = std::decay_t<T>;
  if constexpr (std::is_same_v<type, bool>) {
    if (!v.is_bool())
      return detail::mismatch(at, "true or false", v);
    out = v.get_bool();
  } else if constexpr (std::is_enum_v<type>) {
    std::underlying_type_t<type> raw{};
    if (auto err = read(v, raw, at))
      return err;
    out = static_cast<type>(raw);
  } else if constexpr (std::is_integral_v<type> && std::is_signed_v<type>) {
    int64_t n = 0;
    if (v.is_int64())
      n = v.get_int64();
    else if (v.is_uint64() && v.get_uint64() <= uint64_t(std::numeric_limits<int64_t>::max()))
      n = static_cast<int64_t>(v.get_uint64());
    else
      return detail::mismatch(at, "an integer", v);
    if (n < std::numeric_limits<type>::min() || n > std::numeric_limits<type>::max())
      return make_error(errc::invalid_payload,
                        at.text() + ": " + std::to_string(n) + " is out of range");
    out = static_cast<type>(n);
  } else if constexpr (std::is_integral_v<type>) {
    uint64_t n = 0;
    if (v.is_uint64())
      n = v.get_uint64();
    else if (v.is_int64() && v.get_int64() >= 0)
      n = static_cast<uint64_t>(v.get_int64());
    else
      return detail::mismatch(at, "an unsigned integer", v);
    if (n > std::numeric_limits<type>::max())
      return make_error(errc::invalid_payload,
                        at.text() + ": " + std::to_string(n) + " is out of range");
    out = static_cast<type>(n);
  } else if constexpr (std::is_floating_point_v<type>) {
    if (v.is_double())
      out = static_cast<type>(v.get_double());
    else if (v.is_int64())
      out = static_cast<type>(v.get_int64());
    else if (v.is_uint64())
      out = static_cast<type>(v.get_uint64());
    else
      return detail::mismatch(at, "a number", v);
    if (!std::isfinite(out)) // 1e39 for a float, or a double past the largest one
      return make_error(errc::invalid_payload,
                        at.text() + ": out of range for a "
                          + (sizeof(type) == sizeof(float) ? "float" : "double"));
  } else if constexpr (std::is_same_v<type, std::string>) {
    if (!v.is_string())
      return detail::mismatch(at, "a string", v);
    out.assign(v.get_string().data(), v.get_string().size());
  } else if constexpr (detail::is_optional<type>::value) {
    if (v.is_null()) {
      out = type{};
      return {};
    }
    std::decay_t<decltype(*out)> inner{};
    if (auto err = read(v, inner, at))
      return err;
    out = std::move(inner);
  } else if constexpr (detail::is_vector<type>::value) {
    if (!v.is_array())
      return detail::mismatch(at, "an array", v);
    out.clear();
    const auto& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      typename type::value_type e{};
      if (auto err = read(a[i], e, path{&at, {}, i}))
        return err;
      out.push_back(std::move(e));
    }
  } else if constexpr (detail::is_string_map<type>::value) {
    if (!v.is_object())
      return detail::mismatch(at, "an object", v);
    out.clear();
    for (const auto& kv : v.get_object()) {
      std::string key{kv.key()};
      typename type::mapped_type e{};
      if (auto err = read(kv.value(), e, path{&at, key}))
        return err;
      out.emplace(std::move(key), std::move(e));
    }
  } else if constexpr (detail::is_pair<type>::value) {
    if (!v.is_array() || v.get_array().size() != 2)
      return detail::mismatch(at, "an array of two", v);
    if (auto err = read(v.get_array()[0], out.first, path{&at, {}, 0}))
      return err;
    return read(v.get_array()[1], out.second, path{&at, {}, 1});
  } else {
    static_assert(has_inspect<type>::value, "no JSON mapping for this type: give it inspect()");
    reader r{v, at};
    if (auto err = inspect(r, out))
      return err;
    return r.finish();
  }
  return {};
}

template <class T>
caf::error from_value(const boost::json::value& v, T& out, const std::string& path) {
  return detail::read(v, out, detail::path{nullptr, path});
}

/// Parses JSON text; an error names what is wrong and where.
caf::expected<boost::json::value> parse(std::string_view text);

/// JSON text of a value.
std::string serialize(const boost::json::value& v);

/// The codec of a typed message or event `T` (declared with
/// `CAIRN_MESSAGE_TYPE`): JSON in at the edge, its binary encoding stored;
/// the stored bytes shown as JSON to operators.
template <class T>
message_codec codec_for() {
  message_codec c;
  c.type = type_tag<T>::value;
  c.from_json = [](std::string_view text) -> caf::expected<std::string> {
    auto v = parse(text);
    if (!v)
      return std::move(v.error());
    T x{};
    if (auto err = from_value(*v, x, "payload"))
      return err;
    return encode(x);
  };
  c.from_json_value = [](const void* v) -> caf::expected<std::string> {
    T x{};
    if (auto err = from_value(*static_cast<const boost::json::value*>(v), x, "payload"))
      return err;
    return encode(x);
  };
  c.from_json_text = [](std::string_view text, std::string& out) -> size_t {
    // One value per thread, read over again: its strings and vectors keep
    // their room from one message to the next (none is held past a large
    // message's). Every field is written by a read that succeeds
    // (`text_reader`), and a declined one is dropped.
    thread_local T x{};
    text_cursor in{text};
    bool read = read_text(in, x);
    if (read)
      out = encode(x);
    if (in.pos() > 65536) // the bytes this message took
      x = T{};
    return read ? in.pos() : 0;
  };
  c.to_json = [](std::string_view bytes) -> caf::expected<std::string> {
    auto x = decode<T>(bytes);
    if (!x)
      return std::move(x.error());
    return json::serialize(to_value(*x));
  };
  return c;
}

/// The codec of a message whose payload stays JSON (handled by `on_json`):
/// at the edge it must be a JSON object; it is stored as sent.
message_codec json_object_codec(std::string type);

} // namespace cairn::json
