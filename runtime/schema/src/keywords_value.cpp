// SPDX-License-Identifier: Apache-2.0
// Assertions on the instance itself: type, enum, const, numeric bounds, multipleOf, string
// length, pattern, format (and draft-07 content when format assertion is on).
#include "internal/compiler.hpp"
#include "internal/ecma_regex.hpp"
#include "internal/format.hpp"
#include "internal/json_compare.hpp"
#include "internal/utf8.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace cairn::schema::internal {

namespace {

enum type_bit : unsigned {
  t_null = 1,
  t_boolean = 2,
  t_object = 4,
  t_array = 8,
  t_number = 16,
  t_integer = 32,
  t_string = 64,
};

constexpr std::pair<std::string_view, unsigned> type_names[] = {
  {"null", t_null},     {"boolean", t_boolean}, {"object", t_object}, {"array", t_array},
  {"number", t_number}, {"integer", t_integer}, {"string", t_string}};

std::string short_json(const boost::json::value& v) {
  std::string s = boost::json::serialize(v);
  if (s.size() > 80)
    s = s.substr(0, 77) + "...";
  return s;
}

class type_keyword final : public keyword {
public:
  type_keyword(std::string path, unsigned allowed) : keyword(std::move(path)), allowed_(allowed) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    unsigned bit = 0;
    switch (v.kind()) {
      case boost::json::kind::null: bit = t_null; break;
      case boost::json::kind::bool_: bit = t_boolean; break;
      case boost::json::kind::object: bit = t_object; break;
      case boost::json::kind::array: bit = t_array; break;
      case boost::json::kind::string: bit = t_string; break;
      default: bit = (allowed_ & t_integer) && is_integer(v) ? t_integer | t_number : t_number;
    }
    if ((allowed_ & bit) != 0)
      return true;
    if (!ctx.collecting())
      return false;
    std::string expected;
    for (auto [name, b] : type_names) {
      if ((allowed_ & b) == 0)
        continue;
      if (!expected.empty())
        expected += " or ";
      expected += name;
    }
    return fail(ctx, at, "expected " + expected);
  }

private:
  unsigned allowed_;
};

class enum_keyword final : public keyword {
public:
  enum_keyword(std::string path, std::vector<boost::json::value> values)
    : keyword(std::move(path)), values_(std::move(values)) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    for (const auto& candidate : values_)
      if (json_equal(v, candidate))
        return true;
    if (!ctx.collecting())
      return false;
    std::string list;
    for (const auto& candidate : values_) {
      if (list.size() > 120) {
        list += ", ...";
        break;
      }
      list += (list.empty() ? "" : ", ") + short_json(candidate);
    }
    return fail(ctx, at, (values_.size() == 1 ? "expected " : "expected one of ") + list);
  }

private:
  std::vector<boost::json::value> values_;
};

enum class bound { minimum, maximum, exclusive_minimum, exclusive_maximum };

class bound_keyword final : public keyword {
public:
  bound_keyword(std::string path, bound kind, boost::json::value limit)
    : keyword(std::move(path)), kind_(kind), limit_(std::move(limit)) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!is_number(v))
      return true;
    int c = compare_numbers(v, limit_);
    static constexpr std::string_view ops[] = {">=", "<=", ">", "<"};
    bool ok = kind_ == bound::minimum             ? c >= 0
              : kind_ == bound::maximum           ? c <= 0
              : kind_ == bound::exclusive_minimum ? c > 0
                                                  : c < 0;
    if (ok || !ctx.collecting())
      return ok;
    return fail(ctx, at,
                "expected a number " + std::string(ops[static_cast<int>(kind_)]) + " "
                  + boost::json::serialize(limit_));
  }

private:
  bound kind_;
  boost::json::value limit_;
};

class multiple_of_keyword final : public keyword {
public:
  multiple_of_keyword(std::string path, boost::json::value divisor)
    : keyword(std::move(path)), divisor_(std::move(divisor)) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!is_number(v) || is_multiple_of(v, divisor_))
      return true;
    if (!ctx.collecting())
      return false;
    return fail(ctx, at, "expected a multiple of " + boost::json::serialize(divisor_));
  }

private:
  boost::json::value divisor_;
};

class length_keyword final : public keyword {
public:
  length_keyword(std::string path, std::size_t limit, bool is_max)
    : keyword(std::move(path)), limit_(limit), is_max_(is_max) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!v.is_string())
      return true;
    const auto& s = v.get_string();
    // Byte length bounds the code point count from above, code points >= bytes / 4.
    std::size_t bytes = s.size();
    bool ok;
    if (is_max_)
      ok = bytes <= limit_ || utf8_length(s) <= limit_;
    else
      ok = bytes / 4 >= limit_ || utf8_length(s) >= limit_;
    if (ok || !ctx.collecting())
      return ok;
    return fail(ctx, at,
                std::string(is_max_ ? "expected at most " : "expected at least ")
                  + std::to_string(limit_) + " characters");
  }

private:
  std::size_t limit_;
  bool is_max_;
};

class pattern_keyword final : public keyword {
public:
  pattern_keyword(std::string path, std::shared_ptr<const ecma_regex> re, std::string source)
    : keyword(std::move(path)), re_(std::move(re)), source_(std::move(source)) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!v.is_string())
      return true;
    const auto& s = v.get_string();
    if (s.size() > ctx.options().max_pattern_input
        && utf8_length(s) > ctx.options().max_pattern_input) {
      if (!ctx.collecting())
        return false;
      return fail(ctx, at,
                  "string longer than " + std::to_string(ctx.options().max_pattern_input)
                    + " characters is not matched against a pattern");
    }
    if (re_->search(s))
      return true;
    if (!ctx.collecting())
      return false;
    return fail(ctx, at, "does not match the pattern " + source_);
  }

private:
  std::shared_ptr<const ecma_regex> re_;
  std::string source_;
};

class format_keyword final : public keyword {
public:
  format_keyword(std::string path, format_checker check, std::string name)
    : keyword(std::move(path)), check_(check), name_(std::move(name)) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!v.is_string() || check_(v.get_string()))
      return true;
    if (!ctx.collecting())
      return false;
    return fail(ctx, at, "not a valid " + name_);
  }

private:
  format_checker check_;
  std::string name_;
};

class content_keyword final : public keyword {
public:
  content_keyword(std::string path, bool base64, bool json)
    : keyword(std::move(path)), base64_(base64), json_(json) {}
  bool evaluate(const boost::json::value& v, const instance_step* at, eval_context& ctx,
                evaluated_set*) const override {
    if (!v.is_string())
      return true;
    std::string text(v.get_string());
    if (base64_) {
      auto decoded = decode_base64(text);
      if (!decoded)
        return ctx.collecting() ? fail(ctx, at, "not valid base64") : false;
      text = std::move(*decoded);
    }
    if (json_ && !is_json_text(text))
      return ctx.collecting() ? fail(ctx, at, "not a valid JSON document") : false;
    return true;
  }

private:
  bool base64_;
  bool json_;
};

void add_type(node_builder& b) {
  const auto& v = *b.find("type");
  unsigned allowed = 0;
  auto one = [&](const boost::json::value& name) {
    if (!name.is_string())
      b.refuse("type", "must be a type name or an array of type names");
    for (auto [n, bit] : type_names) {
      if (name.get_string() == n) {
        allowed |= bit;
        return;
      }
    }
    b.refuse("type", "unknown type \"" + std::string(name.get_string()) + "\"");
  };
  if (v.is_array()) {
    if (v.get_array().empty())
      b.refuse("type", "must not be an empty array");
    for (const auto& name : v.get_array())
      one(name);
  } else {
    one(v);
  }
  b.add(std::make_unique<type_keyword>(b.path("type"), allowed));
}

} // namespace

void add_value_keywords(node_builder& b) {
  if (b.vocab(vocab_validation)) {
    if (b.find("type") != nullptr)
      add_type(b);
    if (const auto* v = b.find("enum")) {
      if (!v->is_array())
        b.refuse("enum", "must be an array");
      b.add(std::make_unique<enum_keyword>(
        b.path("enum"),
        std::vector<boost::json::value>(v->get_array().begin(), v->get_array().end())));
    }
    if (const auto* v = b.find("const"))
      b.add(std::make_unique<enum_keyword>(b.path("const"), std::vector<boost::json::value>{*v}));
    static constexpr std::pair<std::string_view, bound> bounds[] = {
      {"minimum", bound::minimum},
      {"maximum", bound::maximum},
      {"exclusiveMinimum", bound::exclusive_minimum},
      {"exclusiveMaximum", bound::exclusive_maximum}};
    for (auto [name, kind] : bounds)
      if (b.find(name) != nullptr)
        b.add(std::make_unique<bound_keyword>(b.path(name), kind, b.number(name)));
    if (b.find("multipleOf") != nullptr) {
      const auto& d = b.number("multipleOf");
      if (compare_numbers(d, boost::json::value(0)) <= 0)
        b.refuse("multipleOf", "must be greater than 0");
      b.add(std::make_unique<multiple_of_keyword>(b.path("multipleOf"), d));
    }
    if (b.find("minLength") != nullptr)
      b.add(std::make_unique<length_keyword>(b.path("minLength"),
                                             b.non_negative_integer("minLength"), false));
    if (b.find("maxLength") != nullptr)
      b.add(std::make_unique<length_keyword>(b.path("maxLength"),
                                             b.non_negative_integer("maxLength"), true));
    if (b.find("pattern") != nullptr) {
      std::string source(b.string("pattern"));
      std::string error;
      auto re = ecma_regex::compile(source, error);
      if (!re)
        b.refuse("pattern", error);
      b.add(std::make_unique<pattern_keyword>(b.path("pattern"), std::move(re), source));
    }
  }
  if (b.find("format") != nullptr) {
    const auto& name = b.string("format");
    bool assert_format = b.vocab(vocab_format_assertion);
    if (assert_format) {
      if (format_checker check = find_format(name))
        b.add(std::make_unique<format_keyword>(b.path("format"), check, std::string(name)));
    }
  }
  if (b.draft7() && b.options().format_assertion) {
    const auto* media = b.find("contentMediaType");
    const auto* encoding = b.find("contentEncoding");
    bool json = media && media->is_string() && media->get_string() == "application/json";
    bool base64 = encoding && encoding->is_string() && encoding->get_string() == "base64";
    if (json || base64)
      b.add(std::make_unique<content_keyword>(
        b.path(media ? "contentMediaType" : "contentEncoding"), base64, json));
  }
}

} // namespace cairn::schema::internal
