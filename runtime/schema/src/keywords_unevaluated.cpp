// SPDX-License-Identifier: Apache-2.0
// unevaluatedProperties and unevaluatedItems: they run last in their schema object and apply to
// the members/elements no other keyword of that object (or of the subschemas it applied in
// place, successfully) evaluated.
#include "internal/compiler.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace cairn::schema::internal {

namespace {

class unevaluated_keyword final : public keyword {
public:
  unevaluated_keyword(std::string path, const node* schema, bool is_false, bool properties)
    : keyword(std::move(path)), schema_(schema), is_false_(is_false), properties_(properties) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (properties_ ? !instance.is_object() : !instance.is_array())
      return true;
    bool ok = true;
    std::size_t size = properties_ ? instance.get_object().size() : instance.get_array().size();
    for (std::size_t i = 0; i < size; ++i) {
      if (evaluated->has(i))
        continue;
      instance_step step{at, {}, i, !properties_};
      const boost::json::value* value = nullptr;
      if (properties_) {
        const auto& member = instance.get_object().begin()[i];
        step.key = member.key();
        value = &member.value();
      } else {
        value = &instance.get_array()[i];
      }
      if (is_false_) {
        ok = false;
        if (ctx.collecting())
          fail(ctx, at,
               properties_
                 ? "property \"" + std::string(step.key)
                     + "\" is not allowed (unevaluatedProperties is false)"
                 : "item " + std::to_string(i) + " is not allowed (unevaluatedItems is false)");
        if (ctx.stop())
          return false;
        continue;
      }
      if (!schema_->evaluate(*value, &step, ctx, nullptr)) {
        ok = false;
        if (ctx.stop())
          return false;
      }
    }
    if (ok)
      evaluated->mark_all();
    return ok;
  }

private:
  const node* schema_;
  bool is_false_;
  bool properties_;
};

} // namespace

void add_unevaluated_keywords(node_builder& b) {
  for (std::string_view kw : {"unevaluatedItems", "unevaluatedProperties"}) {
    const auto* v = b.find(kw);
    if (v == nullptr)
      continue;
    b.needs_evaluated();
    b.add(std::make_unique<unevaluated_keyword>(
      b.path(kw), b.subschema(kw), v->is_bool() && !v->get_bool(), kw == "unevaluatedProperties"));
  }
}

} // namespace cairn::schema::internal
