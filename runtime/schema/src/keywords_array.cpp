// SPDX-License-Identifier: Apache-2.0
// Array keywords: prefixItems/items (2020-12), items/additionalItems (draft-07), contains with
// minContains/maxContains, minItems, maxItems, uniqueItems.
#include "internal/compiler.hpp"
#include "internal/json_compare.hpp"

#include <boost/json/array.hpp>

namespace cairn::schema::internal {

namespace {

// The positional schemas (prefixItems, draft-07 items array) and the schema for the rest.
class items_keyword final : public keyword {
public:
  items_keyword(std::string path, std::vector<const node*> prefix, const node* rest)
    : keyword(std::move(path)), prefix_(std::move(prefix)), rest_(rest) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (!instance.is_array())
      return true;
    const auto& arr = instance.get_array();
    bool ok = true;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const node* schema = i < prefix_.size() ? prefix_[i] : rest_;
      if (schema == nullptr)
        break;
      instance_step step{at, {}, i, true};
      if (!schema->evaluate(arr[i], &step, ctx, nullptr)) {
        ok = false;
        if (ctx.stop())
          return false;
      }
      if (evaluated != nullptr)
        evaluated->mark(i);
    }
    return ok;
  }

private:
  std::vector<const node*> prefix_;
  const node* rest_;
};

class contains_keyword final : public keyword {
public:
  contains_keyword(std::string path, const node* schema, std::size_t min, std::size_t max,
                   bool has_max)
    : keyword(std::move(path)), schema_(schema), min_(min), max_(max), has_max_(has_max) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const override {
    if (!instance.is_array())
      return true;
    const auto& arr = instance.get_array();
    std::size_t count = 0;
    {
      eval_context::quiet q(ctx);
      for (std::size_t i = 0; i < arr.size(); ++i) {
        instance_step step{at, {}, i, true};
        if (schema_->evaluate(arr[i], &step, ctx, nullptr)) {
          ++count;
          if (evaluated != nullptr)
            evaluated->mark(i);
          else if (!has_max_ && count >= min_)
            break;
        }
        if (ctx.aborted())
          return false;
      }
    }
    if (count >= min_ && (!has_max_ || count <= max_))
      return true;
    if (!ctx.collecting())
      return false;
    if (count < min_)
      return fail(ctx, at,
                  min_ == 1 ? std::string("no element matches the \"contains\" schema")
                            : "expected at least " + std::to_string(min_)
                                + " elements matching the \"contains\" schema, found "
                                + std::to_string(count));
    return fail(ctx, at,
                "expected at most " + std::to_string(max_)
                  + " elements matching the \"contains\" schema, found " + std::to_string(count));
  }

private:
  const node* schema_;
  std::size_t min_;
  std::size_t max_;
  bool has_max_;
};

class item_count_keyword final : public keyword {
public:
  item_count_keyword(std::string path, std::size_t limit, bool is_max)
    : keyword(std::move(path)), limit_(limit), is_max_(is_max) {}
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!instance.is_array())
      return true;
    std::size_t n = instance.get_array().size();
    bool ok = is_max_ ? n <= limit_ : n >= limit_;
    if (ok || !ctx.collecting())
      return ok;
    return fail(ctx, at,
                std::string(is_max_ ? "expected at most " : "expected at least ")
                  + std::to_string(limit_) + " items");
  }

private:
  std::size_t limit_;
  bool is_max_;
};

class unique_items_keyword final : public keyword {
public:
  using keyword::keyword;
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!instance.is_array())
      return true;
    const auto& arr = instance.get_array();
    for (std::size_t i = 1; i < arr.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (!json_equal(arr[i], arr[j]))
          continue;
        if (!ctx.collecting())
          return false;
        return fail(ctx, at,
                    "items " + std::to_string(j) + " and " + std::to_string(i)
                      + " are equal (uniqueItems)");
      }
    }
    return true;
  }
};

} // namespace

void add_array_keywords(node_builder& b) {
  if (b.vocab(vocab_applicator)) {
    std::vector<const node*> prefix;
    const node* rest = nullptr;
    std::string path;
    std::string_view positional = b.draft7() ? "items" : "prefixItems";
    std::string_view remainder = b.draft7() ? "additionalItems" : "items";
    const auto* pos = b.find(positional);
    if (pos != nullptr && (pos->is_array() || !b.draft7())) {
      if (!pos->is_array())
        b.refuse(positional, "must be an array of schemas");
      for (std::size_t i = 0; i < pos->get_array().size(); ++i) {
        b.expect_schema(positional, pos->get_array()[i], std::to_string(i));
        prefix.push_back(b.subschema(positional, std::to_string(i)));
      }
      path = b.path(positional);
      if (b.find(remainder) != nullptr) {
        rest = b.subschema(remainder);
        path = b.path(remainder);
      }
    } else if (b.draft7() && pos != nullptr) {
      rest = b.subschema("items"); // draft-07 items as one schema: every element
      path = b.path("items");
    } else if (!b.draft7() && b.find("items") != nullptr) {
      rest = b.subschema("items");
      path = b.path("items");
    }
    if (!prefix.empty() || rest != nullptr)
      b.add(std::make_unique<items_keyword>(std::move(path), std::move(prefix), rest));
    if (b.find("contains") != nullptr) {
      std::size_t min = 1;
      std::size_t max = 0;
      bool has_max = false;
      if (!b.draft7() && b.vocab(vocab_validation)) {
        if (b.find("minContains") != nullptr)
          min = b.non_negative_integer("minContains");
        if (b.find("maxContains") != nullptr) {
          max = b.non_negative_integer("maxContains");
          has_max = true;
        }
      }
      b.add(std::make_unique<contains_keyword>(b.path("contains"), b.subschema("contains"), min,
                                               max, has_max));
    }
  }
  if (!b.vocab(vocab_validation))
    return;
  if (b.find("minItems") != nullptr)
    b.add(std::make_unique<item_count_keyword>(b.path("minItems"),
                                               b.non_negative_integer("minItems"), false));
  if (b.find("maxItems") != nullptr)
    b.add(std::make_unique<item_count_keyword>(b.path("maxItems"),
                                               b.non_negative_integer("maxItems"), true));
  if (const auto* u = b.find("uniqueItems")) {
    if (!u->is_bool())
      b.refuse("uniqueItems", "must be a boolean");
    if (u->get_bool())
      b.add(std::make_unique<unique_items_keyword>(b.path("uniqueItems")));
  }
}

} // namespace cairn::schema::internal
