// SPDX-License-Identifier: Apache-2.0
#include "internal/schema_types.hpp"

#include <algorithm>

namespace cairn::workflow::internal {

namespace json = boost::json;

namespace {

constexpr int max_ref_hops = 16;

// Follows local `$ref`s (`#` or `#/...`) of a schema that says nothing else useful itself.
const json::object* resolve(const json::object& root, const json::object* s) {
  for (int hop = 0; s && hop < max_ref_hops; ++hop) {
    const auto* ref = s->if_contains("$ref");
    if (!ref || !ref->is_string() || s->contains("type") || s->contains("properties")
        || s->contains("items") || s->contains("prefixItems"))
      return s;
    std::string_view r = ref->get_string();
    if (r.empty() || r[0] != '#')
      return nullptr; // remote or relative: unknown
    auto tokens = parse_json_pointer(r.substr(1));
    if (!tokens)
      return nullptr;
    const json::object* at = &root;
    for (const auto& t : *tokens) {
      const auto* next = at->if_contains(t);
      at = next ? next->if_object() : nullptr;
      if (!at)
        return nullptr;
    }
    s = at;
  }
  return nullptr;
}

schema_lookup key_step(const json::object& s, const std::string& key) {
  if (const auto* props = s.if_contains("properties"); props && props->is_object())
    if (const auto* p = props->get_object().if_contains(key))
      return {p->if_object(), false};
  if (const auto* add = s.if_contains("additionalProperties")) {
    if (add->is_bool() && !add->get_bool())
      return {nullptr, true};
    return {add->if_object(), false};
  }
  return {};
}

schema_lookup index_step(const json::object& s, std::size_t i) {
  if (const auto* prefix = s.if_contains("prefixItems"); prefix && prefix->is_array()) {
    const auto& arr = prefix->get_array();
    if (i < arr.size())
      return {arr[i].if_object(), false};
  }
  if (const auto* items = s.if_contains("items")) {
    if (items->is_object())
      return {&items->get_object(), false};
    if (items->is_array()) { // draft-07 tuple form
      const auto& arr = items->get_array();
      if (i < arr.size())
        return {arr[i].if_object(), false};
      if (const auto* extra = s.if_contains("additionalItems"))
        return {extra->if_object(), false};
    }
  }
  return {};
}

bool describes_array(const json::object& s) {
  if (s.contains("items") || s.contains("prefixItems"))
    return true;
  const auto* t = s.if_contains("type");
  return t && t->is_string() && t->get_string() == "array";
}

std::optional<std::size_t> as_index(const std::string& token) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0'))
    return std::nullopt;
  std::size_t v = 0;
  for (char c : token) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  return v;
}

std::string kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return {};
}

} // namespace

schema_lookup subschema_at(const json::object& root, const std::vector<path_segment>& path) {
  const json::object* s = &root;
  for (const auto& seg : path) {
    s = resolve(root, s);
    if (!s)
      return {};
    auto next = seg.is_index ? index_step(*s, seg.index) : key_step(*s, seg.key);
    if (!next.schema)
      return next;
    s = next.schema;
  }
  return {resolve(root, s), false};
}

schema_lookup subschema_at(const json::object& root, const std::vector<std::string>& tokens) {
  const json::object* s = &root;
  for (const auto& t : tokens) {
    s = resolve(root, s);
    if (!s)
      return {};
    auto index = as_index(t);
    auto next = index && describes_array(*s) ? index_step(*s, *index) : key_step(*s, t);
    if (!next.schema)
      return next;
    s = next.schema;
  }
  return {resolve(root, s), false};
}

std::vector<std::string> declared_types(const json::object& root, const json::object& schema) {
  std::vector<std::string> out;
  const auto* s = resolve(root, &schema);
  if (!s)
    return out;
  if (const auto* t = s->if_contains("type")) {
    if (t->is_string())
      out.emplace_back(t->get_string());
    else if (t->is_array())
      for (const auto& e : t->get_array())
        if (e.is_string())
          out.emplace_back(e.get_string());
    return out;
  }
  if (const auto* c = s->if_contains("const")) {
    out.push_back(kind_of(*c));
  } else if (const auto* e = s->if_contains("enum"); e && e->is_array()) {
    for (const auto& v : e->get_array())
      if (auto k = kind_of(v); std::find(out.begin(), out.end(), k) == out.end())
        out.push_back(k);
  }
  return out;
}

std::string first_refused(const std::vector<std::string>& consumer,
                          const std::vector<std::string>& producer) {
  auto has = [&](const char* t) {
    return std::find(consumer.begin(), consumer.end(), t) != consumer.end();
  };
  for (const auto& p : producer) {
    bool ok = has(p.c_str()) || (p == "integer" && has("number"));
    if (!ok)
      return p;
  }
  return {};
}

} // namespace cairn::workflow::internal
