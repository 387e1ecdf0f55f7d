// SPDX-License-Identifier: Apache-2.0
#include <cairn/schema/validator.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace {

using cairn::schema::compile_options;
using cairn::schema::validator;

validator compile(std::string_view schema, compile_options options = {}) {
  auto result = validator::compile(boost::json::parse(schema), options);
  if (!result)
    FAIL("schema refused: " << result.error().to_string());
  return std::move(result).value();
}

constexpr std::string_view order_schema = R"({
  "type": "object",
  "required": ["items"],
  "properties": {
    "items": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}
      }
    },
    "note": {"type": "string", "maxLength": 3}
  }
})";

} // namespace

TEST_CASE("an error names the instance path and the schema path", "[schema][errors]") {
  auto v = compile(order_schema);
  auto result =
    v.validate(boost::json::parse(R"({"items": [{"sku": "a"}, {"sku": "b"}, {"sku": 7}]})"));
  REQUIRE_FALSE(result.valid());
  REQUIRE(result.errors().size() == 1);
  const auto& e = result.errors()[0];
  CHECK(e.instance_path == "$.items[2].sku");
  CHECK(e.schema_path == "#/properties/items/items/properties/sku/type");
  CHECK(e.message == "expected string");
  CHECK(e.to_string()
        == "$.items[2].sku: expected string (schema #/properties/items/items/properties/sku/type)");
}

TEST_CASE("several errors are reported at once, up to max_errors", "[schema][errors]") {
  auto instance = boost::json::parse(
    R"({"items": [{"sku": 1, "qty": 0}, {"sku": 2, "qty": 0}, {"sku": 3}], "note": "long"})");
  auto all = compile(order_schema).validate(instance);
  REQUIRE(all.errors().size() == 6);
  CHECK(all.errors()[0].instance_path == "$.items[0].sku");
  CHECK(all.errors()[1].instance_path == "$.items[0].qty");
  CHECK(all.errors()[1].message == "expected a number >= 1");
  CHECK(all.errors()[5].instance_path == "$.note");
  CHECK(all.errors()[5].message == "expected at most 3 characters");

  compile_options bounded;
  bounded.max_errors = 2;
  auto first_two = compile(order_schema, bounded).validate(instance);
  CHECK(first_two.errors().size() == 2);
}

TEST_CASE("is_valid agrees with validate and stops at the first failure", "[schema]") {
  auto v = compile(order_schema);
  CHECK(v.is_valid(boost::json::parse(R"({"items": [{"sku": "a", "qty": 2}]})")));
  CHECK_FALSE(v.is_valid(boost::json::parse(R"({"items": [{"sku": 1}]})")));
  CHECK_FALSE(v.is_valid(boost::json::parse(R"({})")));
}

TEST_CASE("odd property names are quoted in instance paths", "[schema][errors]") {
  auto v = compile(R"({"additionalProperties": {"type": "integer"}})");
  auto result = v.validate(boost::json::parse(R"({"a b": "x"})"));
  REQUIRE(result.errors().size() == 1);
  CHECK(result.errors()[0].instance_path == R"($["a b"])");
  CHECK(result.errors()[0].schema_path == "#/additionalProperties/type");
}

TEST_CASE("unevaluatedProperties false names the property", "[schema][errors]") {
  auto v = compile(R"({"allOf": [{"properties": {"a": true}}], "unevaluatedProperties": false})");
  CHECK(v.is_valid(boost::json::parse(R"({"a": 1})")));
  auto result = v.validate(boost::json::parse(R"({"a": 1, "b": 2})"));
  REQUIRE(result.errors().size() == 1);
  CHECK(result.errors()[0].message
        == R"(property "b" is not allowed (unevaluatedProperties is false))");
  CHECK(result.errors()[0].schema_path == "#/unevaluatedProperties");
}

TEST_CASE("a $ref cycle that consumes no instance fails at the depth bound, not the stack",
          "[schema][ref]") {
  compile_options options;
  options.max_depth = 64;
  auto self = compile(R"({"type": "object", "$ref": "#"})", options);
  auto result = self.validate(boost::json::parse(R"({})"));
  REQUIRE_FALSE(result.valid());
  CHECK(result.errors().back().message.find("evaluation depth exceeded") != std::string::npos);
  CHECK_FALSE(self.is_valid(boost::json::parse(R"({})")));

  auto mutual = compile(
    R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
        "$ref": "#/$defs/a"})");
  CHECK_FALSE(mutual.is_valid(boost::json::parse("1")));
  CHECK(mutual.validate(boost::json::parse("1")).errors().back().message.find("depth")
        != std::string::npos);
}

TEST_CASE("a recursive schema that consumes the instance validates deep data", "[schema][ref]") {
  auto tree = compile(
    R"({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}})");
  std::string deep = R"({"children": []})";
  for (int i = 0; i < 20; ++i)
    deep = R"({"children": [)" + deep + "]}";
  boost::json::parse_options opts;
  opts.max_depth = 200;
  CHECK(tree.is_valid(boost::json::parse(deep, {}, opts)));
}

TEST_CASE("exponential schemas stop at the evaluation budget", "[schema][ref]") {
  std::string schema = R"({"$defs": {"d0": {"type": "integer"})";
  for (int i = 1; i < 40; ++i)
    schema += ", \"d" + std::to_string(i) + R"(": {"anyOf": [{"$ref": "#/$defs/d)"
              + std::to_string(i - 1) + R"("}, {"$ref": "#/$defs/d)" + std::to_string(i - 1)
              + "\"}]}";
  schema += R"(}, "$ref": "#/$defs/d39"})";
  compile_options options;
  options.max_evaluations = 100'000;
  auto v = compile(schema, options);
  auto result = v.validate(boost::json::parse(R"("not an integer")"));
  REQUIRE_FALSE(result.valid());
  CHECK(result.errors().back().message.find("evaluation budget exceeded") != std::string::npos);
}

TEST_CASE("format is an annotation unless assertion mode is on", "[schema][format]") {
  auto annotation = compile(R"({"format": "ipv4"})");
  CHECK(annotation.is_valid(boost::json::parse(R"("not an address")")));
  compile_options asserting;
  asserting.format_assertion = true;
  auto assertion = compile(R"({"format": "ipv4"})", asserting);
  CHECK(assertion.is_valid(boost::json::parse(R"("10.0.0.1")")));
  auto result = assertion.validate(boost::json::parse(R"("not an address")"));
  REQUIRE(result.errors().size() == 1);
  CHECK(result.errors()[0].message == "not a valid ipv4");
}

TEST_CASE("the Unicode letter class p{L} in a pattern matches letters only", "[schema][regex]") {
  auto v = compile(R"({"pattern": "^\\p{L}+$"})");
  CHECK(v.is_valid(boost::json::parse(R"("école")")));
  CHECK(v.is_valid(boost::json::parse(R"("π")")));
  CHECK_FALSE(v.is_valid(boost::json::parse(R"("abc1")")));
}

TEST_CASE("a pattern runs on a long string without overflowing the stack", "[schema][regex]") {
  auto v = compile(R"({"pattern": "^(a|b)*$"})");
  CHECK(v.is_valid(boost::json::value(std::string(50'000, 'a'))));
  CHECK_FALSE(v.is_valid(boost::json::value(std::string(50'000, 'a') + "c")));
}

TEST_CASE("one validator is used from four threads at once", "[schema][threads]") {
  auto v = compile(order_schema);
  auto good = boost::json::parse(R"({"items": [{"sku": "a", "qty": 1}]})");
  auto bad = boost::json::parse(R"({"items": [{"sku": "a", "qty": 0}, {"sku": 5}]})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!v.is_valid(good) || v.is_valid(bad))
          ++wrong;
        auto r = v.validate(bad);
        if (r.errors().size() != 2 || r.errors()[1].instance_path != "$.items[1].sku")
          ++wrong;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(wrong.load() == 0);
}
