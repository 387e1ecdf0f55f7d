// SPDX-License-Identifier: Apache-2.0
#include "internal/compiler.hpp"

#include "internal/metaschemas.hpp"
#include "internal/uri.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <algorithm>

namespace cairn::schema::internal {

namespace {

// The compiled schema's own base URI when it declares none; relative references resolve
// against it like against any other base.
constexpr std::string_view default_base = "urn:cairn:schema";
constexpr std::string_view uri_2020_12 = "https://json-schema.org/draft/2020-12/schema";
constexpr std::string_view uri_draft07 = "http://json-schema.org/draft-07/schema";
constexpr std::string_view vocab_prefix = "https://json-schema.org/draft/2020-12/vocab/";
constexpr int max_metaschema_chain = 8;
constexpr long max_schema_nesting = 512;

std::string strip_empty_fragment(std::string uri) {
  if (!uri.empty() && uri.back() == '#')
    uri.pop_back();
  return uri;
}

std::string child_pointer(const std::string& parent, std::string_view token) {
  return parent + "/" + escape_pointer_token(token);
}

// Keywords whose values are subschemas, per dialect, for indexing.
struct subschema_keywords {
  std::vector<std::string_view> maps;
  std::vector<std::string_view> arrays;
  std::vector<std::string_view> singles;
};

const subschema_keywords& keywords_of(dialect d) {
  static const subschema_keywords k2020{
    {"$defs", "properties", "patternProperties", "dependentSchemas"},
    {"allOf", "anyOf", "oneOf", "prefixItems"},
    {"items", "contains", "additionalProperties", "propertyNames", "not", "if", "then", "else",
     "unevaluatedItems", "unevaluatedProperties", "contentSchema"}};
  static const subschema_keywords k07{
    {"definitions", "properties", "patternProperties", "dependencies"},
    {"allOf", "anyOf", "oneOf", "items"},
    {"items", "additionalItems", "contains", "additionalProperties", "propertyNames", "not", "if",
     "then", "else"}};
  return d == dialect::draft07 ? k07 : k2020;
}

} // namespace

compiler::compiler(const compile_options& options, const registry* known)
  : known_(known), out_(std::make_shared<compiled_schema>()) {
  out_->options = options;
  if (out_->options.max_errors == 0)
    out_->options.max_errors = 1;
  if (out_->options.max_depth == 0)
    out_->options.max_depth = 1;
}

std::string compiler::path_of(const location& loc) const {
  return documents_[loc.doc].label + "#" + loc.pointer;
}

compiler::dialect_info compiler::metaschema(const std::string& raw_uri,
                                            const std::string& error_path, int depth) {
  std::string uri = strip_empty_fragment(raw_uri);
  unsigned assertion = out_->options.format_assertion ? unsigned{vocab_format_assertion} : 0U;
  if (uri == uri_2020_12)
    return {dialect::draft2020_12, vocab_all_2020_12 | assertion};
  if (uri == uri_draft07)
    return {dialect::draft07, vocab_all_2020_12 | assertion};
  const boost::json::value* doc = known_ != nullptr ? known_->find(uri) : nullptr;
  if (doc == nullptr || !doc->is_object() || depth >= max_metaschema_chain)
    throw compile_failure{error_path, "unknown $schema dialect \"" + raw_uri + "\" (supported: "
                                        + std::string(uri_2020_12) + ", " + std::string(uri_draft07)
                                        + "#, or a metaschema registered in the registry)"};
  const auto& meta = doc->get_object();
  auto base_it = meta.find("$schema");
  if (base_it == meta.end() || !base_it->value().is_string())
    throw compile_failure{uri + "#", "a metaschema must name its own dialect with $schema"};
  dialect_info info =
    metaschema(std::string(base_it->value().get_string()), uri + "#/$schema", depth + 1);
  auto vocab_it = meta.find("$vocabulary");
  if (vocab_it == meta.end() || info.dia != dialect::draft2020_12)
    return info;
  if (!vocab_it->value().is_object())
    throw compile_failure{uri + "#/$vocabulary", "must be an object"};
  unsigned v = 0;
  for (const auto& entry : vocab_it->value().get_object()) {
    std::string_view name = entry.key();
    static const std::pair<std::string_view, unsigned> known_vocabs[] = {
      {"core", vocab_core},
      {"applicator", vocab_applicator},
      {"unevaluated", vocab_unevaluated},
      {"validation", vocab_validation},
      {"meta-data", vocab_meta_data},
      {"format-annotation", vocab_format_annotation},
      {"format-assertion", vocab_format_assertion},
      {"content", vocab_content}};
    bool found = false;
    if (name.substr(0, vocab_prefix.size()) == vocab_prefix) {
      for (auto [suffix, bit] : known_vocabs) {
        if (name.substr(vocab_prefix.size()) == suffix) {
          v |= bit;
          found = true;
        }
      }
    }
    if (!found && entry.value().is_bool() && entry.value().get_bool())
      throw compile_failure{uri + "#/$vocabulary",
                            "required vocabulary \"" + std::string(name) + "\" is not supported"};
  }
  return {dialect::draft2020_12, v | vocab_core | assertion};
}

std::size_t compiler::add_document(const boost::json::value* root, const std::string& uri,
                                   dialect fallback) {
  std::size_t doc = documents_.size();
  documents_.push_back({root, documents_.empty() ? std::string() : uri});
  auto res = std::make_unique<schema_resource>();
  res->uri = uri;
  schema_context ctx;
  ctx.base_uri = uri;
  ctx.dia = fallback;
  ctx.vocabularies =
    metaschema(std::string(fallback == dialect::draft07 ? uri_draft07 : uri_2020_12), "#", 0)
      .vocabularies;
  ctx.resource = res.get();
  out_->resources.push_back(std::move(res));
  resources_.emplace(uri, location{doc, ""});
  index(doc, *root, "", ctx, true);
  return doc;
}

void compiler::index(std::size_t doc, const boost::json::value& v, const std::string& pointer,
                     schema_context ctx, bool resource_root) {
  location loc{doc, pointer};
  if (std::count(pointer.begin(), pointer.end(), '/') > max_schema_nesting)
    throw compile_failure{path_of(loc), "schema nested deeper than 512 levels"};
  if (!v.is_object()) {
    contexts_.emplace(loc, ctx);
    return;
  }
  const auto& obj = v.get_object();
  auto err = [&](std::string_view kw) {
    return path_of(location{doc, child_pointer(pointer, kw)});
  };
  const boost::json::value* id = obj.if_contains("$id");
  if (ctx.dia == dialect::draft07 && obj.contains("$ref"))
    id = nullptr; // draft-07: $ref ignores its siblings, $id included
  if (id != nullptr && !id->is_string())
    throw compile_failure{err("$id"), "must be a string"};
  const boost::json::value* schema_kw = obj.if_contains("$schema");
  if (schema_kw != nullptr && (resource_root || id != nullptr)) {
    if (!schema_kw->is_string())
      throw compile_failure{err("$schema"), "must be a string"};
    auto info = metaschema(std::string(schema_kw->get_string()), err("$schema"), 0);
    ctx.dia = info.dia;
    ctx.vocabularies = info.vocabularies;
  }
  if (id != nullptr) {
    std::string resolved = resolve_uri(ctx.base_uri, std::string_view(id->get_string()));
    auto [abs, fragment] = split_fragment(resolved);
    bool anchor_only = false;
    if (!fragment.empty()) {
      // draft-07: "$id": "#name" is a plain-name anchor; 2020-12 has $anchor for that.
      if (ctx.dia != dialect::draft07)
        throw compile_failure{err("$id"), "must not contain a non-empty fragment"};
      anchors_.emplace(abs + "#" + fragment, loc);
      anchor_only = id->get_string().starts_with("#");
    }
    if (!anchor_only && abs != ctx.base_uri) {
      ctx.base_uri = abs;
      auto res = std::make_unique<schema_resource>();
      res->uri = abs;
      ctx.resource = res.get();
      out_->resources.push_back(std::move(res));
      resources_.emplace(abs, loc);
    }
  }
  if (ctx.dia == dialect::draft2020_12) {
    for (std::string_view kw : {"$anchor", "$dynamicAnchor"}) {
      const boost::json::value* a = obj.if_contains(kw);
      if (a == nullptr)
        continue;
      if (!a->is_string() || a->get_string().empty())
        throw compile_failure{err(kw), "must be a non-empty string"};
      std::string name(a->get_string());
      anchors_.emplace(ctx.base_uri + "#" + name, loc);
      if (kw == "$dynamicAnchor") {
        dynamic_anchor_names_.emplace(loc, name);
        dynamic_anchor_locations_[ctx.resource].emplace(name, loc);
      }
    }
  }
  contexts_.emplace(loc, ctx);
  const auto& kws = keywords_of(ctx.dia);
  for (auto kw : kws.maps) {
    const boost::json::value* m = obj.if_contains(kw);
    if (m == nullptr || !m->is_object())
      continue;
    for (const auto& member : m->get_object()) {
      if (member.value().is_object() || member.value().is_bool())
        index(doc, member.value(), child_pointer(child_pointer(pointer, kw), member.key()), ctx,
              false);
    }
  }
  for (auto kw : kws.arrays) {
    const boost::json::value* a = obj.if_contains(kw);
    if (a == nullptr || !a->is_array())
      continue;
    const auto& arr = a->get_array();
    for (std::size_t i = 0; i < arr.size(); ++i)
      index(doc, arr[i], child_pointer(child_pointer(pointer, kw), std::to_string(i)), ctx, false);
  }
  for (auto kw : kws.singles) {
    const boost::json::value* s = obj.if_contains(kw);
    if (s != nullptr && (s->is_object() || s->is_bool()))
      index(doc, *s, child_pointer(pointer, kw), ctx, false);
  }
}

std::optional<location> compiler::find_resource(const std::string& uri, dialect fallback) {
  if (auto it = resources_.find(uri); it != resources_.end())
    return it->second;
  const boost::json::value* doc = known_ != nullptr ? known_->find(uri) : nullptr;
  if (doc == nullptr)
    doc = builtin_document(uri);
  if (doc == nullptr)
    return std::nullopt;
  add_document(doc, uri, fallback);
  return resources_.at(uri);
}

const boost::json::value* compiler::value_at(const location& loc) const {
  const boost::json::value* v = documents_[loc.doc].root;
  auto tokens = parse_pointer(loc.pointer);
  if (!tokens)
    return nullptr;
  for (const auto& t : *tokens) {
    if (v->is_object()) {
      v = v->get_object().if_contains(t);
    } else if (v->is_array()) {
      if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos
          || (t.size() > 1 && t[0] == '0'))
        return nullptr;
      v = v->get_array().if_contains(std::stoul(t));
    } else {
      return nullptr;
    }
    if (v == nullptr)
      return nullptr;
  }
  return v;
}

const schema_context& compiler::context_of(const location& loc) const {
  location probe = loc;
  while (true) {
    if (auto it = contexts_.find(probe); it != contexts_.end())
      return it->second;
    auto slash = probe.pointer.rfind('/');
    probe.pointer.erase(slash == std::string::npos ? 0 : slash);
  }
}

location compiler::resolve(const location& from, const schema_context& ctx,
                           std::string_view reference, const std::string& error_path) {
  std::string target = resolve_uri(ctx.base_uri, reference);
  auto [abs, raw_fragment] = split_fragment(target);
  auto fragment = percent_decode(raw_fragment);
  if (!fragment)
    throw compile_failure{error_path, "malformed percent-encoding in \"" + target + "\""};
  auto root = find_resource(abs, ctx.dia);
  if (!root)
    throw compile_failure{error_path, "unresolvable reference \"" + target
                                        + "\" (remote documents must be registered)"};
  if (fragment->empty())
    return *root;
  if ((*fragment)[0] == '/') {
    auto tokens = parse_pointer(*fragment);
    if (!tokens)
      throw compile_failure{error_path, "malformed JSON pointer in \"" + target + "\""};
    location loc = *root;
    for (const auto& t : *tokens)
      loc.pointer = child_pointer(loc.pointer, t);
    if (value_at(loc) == nullptr)
      throw compile_failure{error_path,
                            "unresolvable reference \"" + target + "\" (no such location)"};
    return loc;
  }
  if (auto it = anchors_.find(abs + "#" + *fragment); it != anchors_.end())
    return it->second;
  throw compile_failure{error_path, "unresolvable reference \"" + target + "\" (no such anchor)"};
}

std::string compiler::dynamic_anchor_at(const location& loc) const {
  auto it = dynamic_anchor_names_.find(loc);
  return it == dynamic_anchor_names_.end() ? std::string() : it->second;
}

const node* compiler::schedule(const location& loc) {
  if (auto it = nodes_.find(loc); it != nodes_.end())
    return it->second;
  auto n = std::make_unique<node>();
  node* raw = n.get();
  out_->nodes.push_back(std::move(n));
  nodes_.emplace(loc, raw);
  pending_.emplace_back(raw, loc);
  return raw;
}

void compiler::compile_node(node& n, const location& loc) {
  const boost::json::value* v = value_at(loc);
  const schema_context& ctx = context_of(loc);
  n.resource_ = ctx.resource;
  n.schema_path_ = path_of(loc);
  if (v == nullptr)
    throw compile_failure{n.schema_path_, "no schema at this location"};
  if (v->is_bool()) {
    if (!v->get_bool())
      n.keywords_.push_back(make_false_keyword(n.schema_path_));
    return;
  }
  if (!v->is_object())
    throw compile_failure{n.schema_path_, "a schema must be an object or a boolean"};
  node_builder b(*this, loc, v->get_object(), ctx, n);
  add_reference_keywords(b);
  if (b.draft7() && v->get_object().contains("$ref"))
    return; // draft-07: $ref overrides every sibling keyword
  if (b.vocab(vocab_applicator))
    add_applicator_keywords(b);
  add_value_keywords(b);
  add_object_keywords(b);
  add_array_keywords(b);
  if (b.vocab(vocab_unevaluated) && !b.draft7())
    add_unevaluated_keywords(b);
}

void compiler::link_dynamic_anchors() {
  for (const auto& [resource, anchors] : dynamic_anchor_locations_) {
    for (const auto& [name, loc] : anchors) {
      if (!dynamic_names_.contains(name))
        continue;
      auto* res = const_cast<schema_resource*>(resource);
      if (!res->dynamic_anchors.contains(name))
        res->dynamic_anchors.emplace(name, schedule(loc));
    }
  }
}

std::shared_ptr<compiled_schema> compiler::run(const boost::json::value& root) {
  std::string base(default_base);
  if (root.is_object()) {
    const boost::json::value* id = root.get_object().if_contains("$id");
    if (id != nullptr && id->is_string())
      base = strip_empty_fragment(
        split_fragment(resolve_uri(default_base, std::string_view(id->get_string()))).first);
  }
  add_document(&root, base, out_->options.default_dialect);
  out_->root = schedule(location{0, ""});
  while (!pending_.empty()) {
    while (!pending_.empty()) {
      auto [n, loc] = pending_.front();
      pending_.pop_front();
      compile_node(*n, loc);
    }
    if (!dynamic_names_.empty()) {
      out_->uses_dynamic_scope = true;
      link_dynamic_anchors();
    }
  }
  return out_;
}

// --- node_builder ----------------------------------------------------------------------------

const compile_options& node_builder::options() const {
  return c_.options();
}

const boost::json::value* node_builder::find(std::string_view keyword) const {
  return schema_.if_contains(keyword);
}

std::string node_builder::path(std::string_view keyword) const {
  return c_.path_of(location{loc_.doc, child_pointer(loc_.pointer, keyword)});
}

std::string node_builder::path(std::string_view keyword, std::string_view token) const {
  return c_.path_of(location{loc_.doc, child_pointer(child_pointer(loc_.pointer, keyword), token)});
}

const node* node_builder::subschema(std::string_view keyword) const {
  expect_schema(keyword, *find(keyword));
  return c_.schedule(location{loc_.doc, child_pointer(loc_.pointer, keyword)});
}

const node* node_builder::subschema(std::string_view keyword, std::string_view token) const {
  return c_.schedule(
    location{loc_.doc, child_pointer(child_pointer(loc_.pointer, keyword), token)});
}

const node* node_builder::resolve(std::string_view keyword, std::string_view reference) const {
  return c_.schedule(c_.resolve(loc_, ctx_, reference, path(keyword)));
}

void node_builder::uses_dynamic_anchor(const std::string& name) const {
  c_.note_dynamic_name(name);
}

bool node_builder::target_has_dynamic_anchor(std::string_view reference,
                                             const std::string& name) const {
  return c_.dynamic_anchor_at(c_.resolve(loc_, ctx_, reference, path("$dynamicRef"))) == name;
}

void node_builder::refuse(std::string_view keyword, std::string message) const {
  throw compile_failure{path(keyword), std::move(message)};
}

std::size_t node_builder::non_negative_integer(std::string_view keyword) const {
  const boost::json::value& v = *find(keyword);
  if (v.is_uint64())
    return static_cast<std::size_t>(v.get_uint64());
  if (v.is_int64() && v.get_int64() >= 0)
    return static_cast<std::size_t>(v.get_int64());
  if (v.is_double() && v.get_double() >= 0
      && v.get_double() == static_cast<double>(static_cast<std::uint64_t>(v.get_double())))
    return static_cast<std::size_t>(v.get_double());
  if (v.is_double() && v.get_double() >= 1.8e19)
    return static_cast<std::size_t>(-1);
  refuse(keyword, "must be a non-negative integer");
}

const boost::json::value& node_builder::number(std::string_view keyword) const {
  const boost::json::value& v = *find(keyword);
  if (!v.is_int64() && !v.is_uint64() && !v.is_double())
    refuse(keyword, "must be a number");
  return v;
}

const boost::json::string& node_builder::string(std::string_view keyword) const {
  const boost::json::value& v = *find(keyword);
  if (!v.is_string())
    refuse(keyword, "must be a string");
  return v.get_string();
}

void node_builder::expect_schema(std::string_view keyword, const boost::json::value& v,
                                 std::string_view token) const {
  if (v.is_object() || v.is_bool())
    return;
  throw compile_failure{token.empty() ? path(keyword) : path(keyword, token),
                        "must be a schema (an object or a boolean)"};
}

} // namespace cairn::schema::internal
