// SPDX-License-Identifier: Apache-2.0
// Object keywords: properties, patternProperties, additionalProperties, propertyNames, required,
// dependentRequired, draft-07 dependencies, minProperties, maxProperties.
#include "internal/compiler.hpp"
#include "internal/ecma_regex.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <unordered_map>

namespace cairn::schema::internal {

namespace {

using pattern_list = std::vector<std::pair<std::shared_ptr<const ecma_regex>, const node*>>;

std::size_t position(const boost::json::object& obj, const boost::json::key_value_pair& member) {
  return static_cast<std::size_t>(&member - obj.begin());
}

bool key_matches(const ecma_regex& re, std::string_view key, const eval_context& ctx) {
  return key.size() <= ctx.options().max_pattern_input && re.search(key);
}

// properties + patternProperties + additionalProperties in one pass over the members: they
// share the question "which of these named or matched this member".
class members_keyword final : public keyword {
public:
  members_keyword(std::string path, std::vector<std::string> names,
                  std::vector<const node*> schemas, std::vector<std::string> pattern_paths,
                  pattern_list patterns, const node* additional, bool additional_is_false,
                  std::string additional_path)
    : keyword(std::move(path)), names_(std::move(names)), schemas_(std::move(schemas)),
      pattern_paths_(std::move(pattern_paths)), patterns_(std::move(patterns)),
      additional_(additional), additional_is_false_(additional_is_false),
      additional_path_(std::move(additional_path)) {
    for (std::size_t i = 0; i < names_.size(); ++i)
      index_.emplace(names_[i], i);
  }

  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (!instance.is_object())
      return true;
    const auto& obj = instance.get_object();
    bool ok = true;
    for (const auto& member : obj) {
      std::string_view key = member.key();
      instance_step step{at, key};
      bool seen = false;
      if (!names_.empty()) {
        if (auto it = index_.find(key); it != index_.end()) {
          seen = true;
          if (!schemas_[it->second]->evaluate(member.value(), &step, ctx, nullptr)) {
            ok = false;
            if (ctx.stop())
              return false;
          }
        }
      }
      for (const auto& [re, schema] : patterns_) {
        if (!key_matches(*re, key, ctx))
          continue;
        seen = true;
        if (!schema->evaluate(member.value(), &step, ctx, nullptr)) {
          ok = false;
          if (ctx.stop())
            return false;
        }
      }
      if (!seen && additional_ != nullptr) {
        seen = true;
        if (additional_is_false_) {
          ok = false;
          if (ctx.collecting())
            ctx.report(at, additional_path_,
                       "property \"" + std::string(key)
                         + "\" is not allowed (additionalProperties is false)");
          if (ctx.stop())
            return false;
        } else if (!additional_->evaluate(member.value(), &step, ctx, nullptr)) {
          ok = false;
          if (ctx.stop())
            return false;
        }
      }
      if (seen && evaluated != nullptr)
        evaluated->mark(position(obj, member));
    }
    return ok;
  }

private:
  std::vector<std::string> names_;
  std::vector<const node*> schemas_;
  std::unordered_map<std::string_view, std::size_t> index_;
  std::vector<std::string> pattern_paths_;
  pattern_list patterns_;
  const node* additional_;
  bool additional_is_false_;
  std::string additional_path_;
};

class property_names_keyword final : public keyword {
public:
  property_names_keyword(std::string path, const node* names)
    : keyword(std::move(path)), names_(names) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!instance.is_object())
      return true;
    bool ok = true;
    for (const auto& member : instance.get_object()) {
      instance_step step{at, member.key()};
      boost::json::value name(member.key());
      if (!names_->evaluate(name, &step, ctx, nullptr)) {
        ok = false;
        if (ctx.stop())
          break;
      }
    }
    return ok;
  }

private:
  const node* names_;
};

class required_keyword final : public keyword {
public:
  required_keyword(std::string path, std::vector<std::string> names, std::string trigger = {})
    : keyword(std::move(path)), names_(std::move(names)), trigger_(std::move(trigger)) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!instance.is_object())
      return true;
    const auto& obj = instance.get_object();
    if (!trigger_.empty() && !obj.contains(trigger_))
      return true;
    bool ok = true;
    for (const auto& name : names_) {
      if (obj.contains(name))
        continue;
      ok = false;
      if (!ctx.collecting())
        return false;
      // Reported at the missing member's own path: `$.text: required property is missing`.
      instance_step missing{at, name, 0, false};
      fail(ctx, &missing,
           "required property is missing"
             + (trigger_.empty() ? "" : " (required when \"" + trigger_ + "\" is present)"));
      if (ctx.stop())
        break;
    }
    return ok;
  }

private:
  std::vector<std::string> names_;
  std::string trigger_;
};

class property_count_keyword final : public keyword {
public:
  property_count_keyword(std::string path, std::size_t limit, bool is_max)
    : keyword(std::move(path)), limit_(limit), is_max_(is_max) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!instance.is_object())
      return true;
    std::size_t n = instance.get_object().size();
    bool ok = is_max_ ? n <= limit_ : n >= limit_;
    if (ok || !ctx.collecting())
      return ok;
    return fail(ctx, at,
                std::string(is_max_ ? "expected at most " : "expected at least ")
                  + std::to_string(limit_) + " properties");
  }

private:
  std::size_t limit_;
  bool is_max_;
};

class dependent_schema_keyword final : public keyword {
public:
  dependent_schema_keyword(std::string path, std::string trigger, const node* schema)
    : keyword(std::move(path)), trigger_(std::move(trigger)), schema_(schema) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (!instance.is_object() || !instance.get_object().contains(trigger_))
      return true;
    return schema_->evaluate(instance, at, ctx, evaluated);
  }

private:
  std::string trigger_;
  const node* schema_;
};

std::vector<std::string> string_list(const node_builder& b, std::string_view kw,
                                     const boost::json::value& v, std::string_view token = {}) {
  if (!v.is_array())
    b.refuse(kw, "must be an array of strings"
                   + (token.empty() ? std::string() : " at \"" + std::string(token) + "\""));
  std::vector<std::string> out;
  for (const auto& s : v.get_array()) {
    if (!s.is_string())
      b.refuse(kw, "must be an array of strings");
    out.emplace_back(s.get_string());
  }
  return out;
}

void add_members(node_builder& b) {
  const auto* props = b.find("properties");
  const auto* patterns = b.find("patternProperties");
  const auto* additional = b.find("additionalProperties");
  if (!props && !patterns && !additional)
    return;
  std::vector<std::string> names;
  std::vector<const node*> schemas;
  if (props) {
    if (!props->is_object())
      b.refuse("properties", "must be an object of schemas");
    for (const auto& member : props->get_object()) {
      b.expect_schema("properties", member.value(), member.key());
      names.emplace_back(member.key());
      schemas.push_back(b.subschema("properties", member.key()));
    }
  }
  std::vector<std::string> pattern_paths;
  pattern_list compiled;
  if (patterns) {
    if (!patterns->is_object())
      b.refuse("patternProperties", "must be an object of schemas");
    for (const auto& member : patterns->get_object()) {
      b.expect_schema("patternProperties", member.value(), member.key());
      std::string error;
      auto re = ecma_regex::compile(member.key(), error);
      if (!re)
        throw compile_failure{b.path("patternProperties", member.key()), error};
      pattern_paths.push_back(b.path("patternProperties", member.key()));
      compiled.emplace_back(std::move(re), b.subschema("patternProperties", member.key()));
    }
  }
  const node* extra = additional ? b.subschema("additionalProperties") : nullptr;
  std::string path = b.path(props      ? "properties"
                            : patterns ? "patternProperties"
                                       : "additionalProperties");
  b.add(std::make_unique<members_keyword>(
    std::move(path), std::move(names), std::move(schemas), std::move(pattern_paths),
    std::move(compiled), extra, additional && additional->is_bool() && !additional->get_bool(),
    additional ? b.path("additionalProperties") : ""));
}

} // namespace

void add_object_keywords(node_builder& b) {
  if (b.vocab(vocab_applicator)) {
    add_members(b);
    if (b.find("propertyNames") != nullptr)
      b.add(std::make_unique<property_names_keyword>(b.path("propertyNames"),
                                                     b.subschema("propertyNames")));
  }
  // draft-07 "dependencies"; 2020-12 split it into dependentRequired/dependentSchemas but keeps
  // honouring it for compatibility (as the suite's optional tests expect).
  if (b.find("dependencies") != nullptr) {
    const auto& deps = *b.find("dependencies");
    if (!deps.is_object())
      b.refuse("dependencies", "must be an object");
    for (const auto& member : deps.get_object()) {
      std::string path = b.path("dependencies", member.key());
      if (member.value().is_array())
        b.add(std::make_unique<required_keyword>(
          path, string_list(b, "dependencies", member.value(), member.key()),
          std::string(member.key())));
      else if (b.expect_schema("dependencies", member.value(), member.key()), true)
        b.add(std::make_unique<dependent_schema_keyword>(
          path, std::string(member.key()), b.subschema("dependencies", member.key())));
    }
  }
  if (!b.vocab(vocab_validation))
    return;
  if (const auto* v = b.find("required"))
    b.add(std::make_unique<required_keyword>(b.path("required"), string_list(b, "required", *v)));
  if (!b.draft7() && b.find("dependentRequired") != nullptr) {
    const auto& deps = *b.find("dependentRequired");
    if (!deps.is_object())
      b.refuse("dependentRequired", "must be an object of string arrays");
    for (const auto& member : deps.get_object())
      b.add(std::make_unique<required_keyword>(
        b.path("dependentRequired", member.key()),
        string_list(b, "dependentRequired", member.value(), member.key()),
        std::string(member.key())));
  }
  if (b.find("minProperties") != nullptr)
    b.add(std::make_unique<property_count_keyword>(b.path("minProperties"),
                                                   b.non_negative_integer("minProperties"), false));
  if (b.find("maxProperties") != nullptr)
    b.add(std::make_unique<property_count_keyword>(b.path("maxProperties"),
                                                   b.non_negative_integer("maxProperties"), true));
}

} // namespace cairn::schema::internal
