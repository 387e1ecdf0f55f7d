// SPDX-License-Identifier: Apache-2.0
// In-place applicators: $ref, $dynamicRef, allOf, anyOf, oneOf, not, if/then/else,
// dependentSchemas. They apply subschemas to the same instance and pass the evaluated set on,
// except where a failing branch must not contribute (anyOf, oneOf, not, if).
#include "internal/compiler.hpp"
#include "internal/uri.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

namespace cairn::schema::internal {

class false_keyword final : public keyword {
public:
  using keyword::keyword;
  bool evaluate(const boost::json::value&, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (ctx.collecting())
      return fail(ctx, at, "no value is allowed here (the schema is false)");
    return false;
  }
};

std::unique_ptr<keyword> make_false_keyword(std::string schema_path) {
  return std::make_unique<false_keyword>(std::move(schema_path));
}

namespace {

class ref_keyword final : public keyword {
public:
  ref_keyword(std::string path, const node* target) : keyword(std::move(path)), target_(target) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    return target_->evaluate(instance, at, ctx, evaluated);
  }

private:
  const node* target_;
};

} // namespace

// $dynamicRef: when the statically resolved target carries the same $dynamicAnchor, the
// outermost resource of the dynamic scope that has that anchor wins (2020-12, 8.2.3.2).
class dynamic_ref_keyword final : public keyword {
public:
  dynamic_ref_keyword(std::string path, const node* target, std::string name, bool dynamic)
    : keyword(std::move(path)), target_(target), name_(std::move(name)), dynamic_(dynamic) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    const node* target = target_;
    if (dynamic_) {
      for (const schema_resource* r : ctx.dynamic_scope_) {
        if (r == nullptr)
          continue;
        if (auto it = r->dynamic_anchors.find(name_); it != r->dynamic_anchors.end()) {
          target = it->second;
          break;
        }
      }
    }
    return target->evaluate(instance, at, ctx, evaluated);
  }

private:
  const node* target_;
  std::string name_;
  bool dynamic_;
};

namespace {

class all_of_keyword final : public keyword {
public:
  all_of_keyword(std::string path, std::vector<const node*> branches)
    : keyword(std::move(path)), branches_(std::move(branches)) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    bool ok = true;
    for (const node* b : branches_) {
      if (!b->evaluate(instance, at, ctx, evaluated)) {
        ok = false;
        if (ctx.stop())
          break;
      }
    }
    return ok;
  }

private:
  std::vector<const node*> branches_;
};

class any_of_keyword final : public keyword {
public:
  any_of_keyword(std::string path, std::vector<const node*> branches)
    : keyword(std::move(path)), branches_(std::move(branches)) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    bool any = false;
    {
      eval_context::quiet q(ctx);
      for (const node* b : branches_) {
        if (evaluated == nullptr) {
          if (b->evaluate(instance, at, ctx, nullptr))
            return true;
          continue;
        }
        evaluated_set mine;
        if (b->evaluate(instance, at, ctx, &mine)) {
          any = true;
          evaluated->merge(mine);
        }
      }
    }
    if (any)
      return true;
    if (ctx.collecting())
      return fail(ctx, at,
                  "does not match any of the " + std::to_string(branches_.size())
                    + " anyOf alternatives");
    return false;
  }

private:
  std::vector<const node*> branches_;
};

class one_of_keyword final : public keyword {
public:
  one_of_keyword(std::string path, std::vector<const node*> branches)
    : keyword(std::move(path)), branches_(std::move(branches)) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    std::vector<std::size_t> matched;
    evaluated_set first;
    {
      eval_context::quiet q(ctx);
      for (std::size_t i = 0; i < branches_.size() && matched.size() < 2; ++i) {
        evaluated_set mine;
        if (branches_[i]->evaluate(instance, at, ctx, evaluated ? &mine : nullptr)) {
          if (matched.empty())
            first = std::move(mine);
          matched.push_back(i);
        }
      }
    }
    if (matched.size() == 1) {
      if (evaluated != nullptr)
        evaluated->merge(first);
      return true;
    }
    if (!ctx.collecting())
      return false;
    if (matched.empty())
      return fail(ctx, at,
                  "does not match any of the " + std::to_string(branches_.size())
                    + " oneOf alternatives");
    return fail(ctx, at,
                "matches more than one oneOf alternative (" + std::to_string(matched[0]) + " and "
                  + std::to_string(matched[1]) + ")");
  }

private:
  std::vector<const node*> branches_;
};

class not_keyword final : public keyword {
public:
  not_keyword(std::string path, const node* negated)
    : keyword(std::move(path)), negated_(negated) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    bool matched = false;
    {
      eval_context::quiet q(ctx);
      matched = negated_->evaluate(instance, at, ctx, nullptr);
    }
    if (!matched || ctx.aborted())
      return !ctx.aborted();
    if (ctx.collecting())
      return fail(ctx, at, "must not match the \"not\" schema");
    return false;
  }

private:
  const node* negated_;
};

class conditional_keyword final : public keyword {
public:
  conditional_keyword(std::string path, const node* if_node, const node* then_node,
                      const node* else_node)
    : keyword(std::move(path)), if_(if_node), then_(then_node), else_(else_node) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (then_ == nullptr && else_ == nullptr && evaluated == nullptr)
      return true;
    bool holds = false;
    {
      eval_context::quiet q(ctx);
      evaluated_set mine;
      holds = if_->evaluate(instance, at, ctx, evaluated ? &mine : nullptr);
      if (holds && evaluated != nullptr)
        evaluated->merge(mine);
    }
    if (ctx.aborted())
      return false;
    const node* branch = holds ? then_ : else_;
    return branch == nullptr || branch->evaluate(instance, at, ctx, evaluated);
  }

private:
  const node* if_;
  const node* then_;
  const node* else_;
};

class dependent_schemas_keyword final : public keyword {
public:
  dependent_schemas_keyword(std::string path, std::vector<std::pair<std::string, const node*>> deps)
    : keyword(std::move(path)), deps_(std::move(deps)) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (!instance.is_object())
      return true;
    const auto& obj = instance.get_object();
    bool ok = true;
    for (const auto& [name, schema] : deps_) {
      if (!obj.contains(name))
        continue;
      if (!schema->evaluate(instance, at, ctx, evaluated)) {
        ok = false;
        if (ctx.stop())
          break;
      }
    }
    return ok;
  }

private:
  std::vector<std::pair<std::string, const node*>> deps_;
};

std::vector<const node*> schema_array(node_builder& b, std::string_view kw) {
  const boost::json::value& v = *b.find(kw);
  if (!v.is_array() || v.get_array().empty())
    b.refuse(kw, "must be a non-empty array of schemas");
  std::vector<const node*> out;
  const auto& arr = v.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    b.expect_schema(kw, arr[i], std::to_string(i));
    out.push_back(b.subschema(kw, std::to_string(i)));
  }
  return out;
}

} // namespace

void add_reference_keywords(node_builder& b) {
  if (b.find("$ref") != nullptr) {
    const auto& ref = b.string("$ref");
    b.add(std::make_unique<ref_keyword>(b.path("$ref"), b.resolve("$ref", ref)));
  }
  if (b.draft7() || b.find("$dynamicRef") == nullptr)
    return;
  const auto& ref = b.string("$dynamicRef");
  const node* target = b.resolve("$dynamicRef", ref);
  std::string fragment = split_fragment(std::string_view(ref)).second;
  bool dynamic = false;
  if (!fragment.empty() && fragment[0] != '/') {
    dynamic = b.target_has_dynamic_anchor(ref, fragment);
    if (dynamic)
      b.uses_dynamic_anchor(fragment);
  }
  b.add(std::make_unique<dynamic_ref_keyword>(b.path("$dynamicRef"), target, fragment, dynamic));
}

void add_applicator_keywords(node_builder& b) {
  if (b.find("allOf") != nullptr)
    b.add(std::make_unique<all_of_keyword>(b.path("allOf"), schema_array(b, "allOf")));
  if (b.find("anyOf") != nullptr)
    b.add(std::make_unique<any_of_keyword>(b.path("anyOf"), schema_array(b, "anyOf")));
  if (b.find("oneOf") != nullptr)
    b.add(std::make_unique<one_of_keyword>(b.path("oneOf"), schema_array(b, "oneOf")));
  if (b.find("not") != nullptr)
    b.add(std::make_unique<not_keyword>(b.path("not"), b.subschema("not")));
  if (b.find("if") != nullptr) {
    const node* then_node = b.find("then") ? b.subschema("then") : nullptr;
    const node* else_node = b.find("else") ? b.subschema("else") : nullptr;
    b.add(
      std::make_unique<conditional_keyword>(b.path("if"), b.subschema("if"), then_node, else_node));
  }
  if (!b.draft7() && b.find("dependentSchemas") != nullptr) {
    const auto& v = *b.find("dependentSchemas");
    if (!v.is_object())
      b.refuse("dependentSchemas", "must be an object of schemas");
    std::vector<std::pair<std::string, const node*>> deps;
    for (const auto& member : v.get_object()) {
      b.expect_schema("dependentSchemas", member.value(), member.key());
      deps.emplace_back(std::string(member.key()), b.subschema("dependentSchemas", member.key()));
    }
    b.add(std::make_unique<dependent_schemas_keyword>(b.path("dependentSchemas"), std::move(deps)));
  }
}

} // namespace cairn::schema::internal
