// SPDX-License-Identifier: Apache-2.0
#include "cairn/json_codec.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace cairn::json {

namespace detail {

std::string describe(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return v.get_bool() ? "true" : "false";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return boost::json::serialize(v);
    case boost::json::kind::string: {
      auto text = boost::json::serialize(v);
      return text.size() > 40 ? "a string" : text;
    }
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

std::string path::text() const {
  if (parent == nullptr)
    return std::string{name};
  auto out = parent->text();
  if (index != no_index) {
    out += '[';
    out += std::to_string(index);
    out += ']';
  } else {
    out += '.';
    out += name;
  }
  return out;
}

caf::error mismatch(const path& at, const char* expected, const boost::json::value& v) {
  return make_error(errc::invalid_payload,
                    at.text() + ": expected " + expected + ", got " + describe(v));
}

} // namespace detail

boost::json::value writer::result() {
  bool named = false;
  for (const auto& item : items_)
    named = named || item.first != nullptr;
  if (!named) {
    boost::json::array a;
    for (auto& item : items_)
      a.push_back(std::move(item.second));
    return a;
  }
  boost::json::object o;
  for (size_t i = 0; i < items_.size(); ++i) {
    auto& [name, value] = items_[i];
    o[name != nullptr ? std::string{name} : "_" + std::to_string(i)] = std::move(value);
  }
  return o;
}

caf::error reader::finish() const {
  if (in_.is_object()) {
    const auto& obj = in_.get_object();
    if (found_ == obj.size())
      return {}; // every key named a field read
    for (size_t pos = 0; pos < obj.size(); ++pos)
      if (!was_consumed(pos))
        return make_error(errc::invalid_payload,
                          detail::path{&at_, obj.begin()[pos].key()}.text() + ": unknown field");
  } else if (in_.is_array() && in_.get_array().size() > index_) {
    return make_error(errc::invalid_payload, at_.text() + ": " + std::to_string(index_)
                                               + " values expected, got "
                                               + std::to_string(in_.get_array().size()));
  }
  return {};
}

caf::expected<boost::json::value> parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec);
  if (ec)
    return make_error(errc::invalid_payload, "payload is not valid JSON: " + ec.message());
  return v;
}

std::string serialize(const boost::json::value& v) {
  return boost::json::serialize(v);
}

message_codec json_object_codec(std::string type) {
  message_codec c;
  c.type = std::move(type);
  c.to_json = [](std::string_view bytes) -> caf::expected<std::string> {
    return std::string{bytes};
  };
  c.from_json = [](std::string_view text) -> caf::expected<std::string> {
    auto v = parse(text);
    if (!v)
      return std::move(v.error());
    if (!v->is_object())
      return detail::mismatch(detail::path{nullptr, "payload"}, "an object", *v);
    return std::string{text};
  };
  c.json_passthrough = true;
  return c;
}

} // namespace cairn::json
