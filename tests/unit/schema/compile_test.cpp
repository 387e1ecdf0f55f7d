// SPDX-License-Identifier: Apache-2.0
#include <cairn/schema/validator.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

namespace {

using cairn::schema::compile_error;
using cairn::schema::registry;
using cairn::schema::validator;

compile_error refusal(std::string_view schema, const registry& known = {}) {
  auto result = validator::compile(boost::json::parse(schema), {}, known);
  REQUIRE_FALSE(result);
  return result.error();
}

} // namespace

TEST_CASE("an unknown $schema is refused", "[schema][compile]") {
  auto e = refusal(R"({"$schema": "https://json-schema.org/draft/2019-09/schema"})");
  CHECK(e.path == "#/$schema");
  CHECK(e.message.starts_with("unknown $schema dialect"));
}

TEST_CASE("draft-07 is selected by $schema", "[schema][compile]") {
  // In draft-07, $ref overrides its siblings.
  auto v = validator::compile(boost::json::parse(
    R"({"$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 1})"));
  REQUIRE(v);
  CHECK(v->is_valid(boost::json::parse(R"("long")")));
}

TEST_CASE("malformed keyword values are refused with their path", "[schema][compile]") {
  auto type = refusal(R"({"properties": {"a": {"type": 5}}})");
  CHECK(type.path == "#/properties/a/type");
  CHECK(type.message == "must be a type name or an array of type names");
  auto length = refusal(R"({"items": {"minLength": -1}})");
  CHECK(length.to_string() == "#/items/minLength: must be a non-negative integer");
  auto multiple = refusal(R"({"multipleOf": 0})");
  CHECK(multiple.path == "#/multipleOf");
  auto sub = refusal(R"({"allOf": [{}, 3]})");
  CHECK(sub.path == "#/allOf/1");
}

TEST_CASE("maxLength 2.0 is an integer", "[schema][compile]") {
  auto v = validator::compile(boost::json::parse(R"({"maxLength": 2.0})"));
  REQUIRE(v);
  CHECK(v->is_valid(boost::json::parse(R"("ab")")));
  CHECK_FALSE(v->is_valid(boost::json::parse(R"("abc")")));
}

TEST_CASE("an unresolvable reference is refused at compile time", "[schema][compile]") {
  auto remote = refusal(R"({"properties": {"a": {"$ref": "https://example.com/missing.json"}}})");
  CHECK(remote.path == "#/properties/a/$ref");
  CHECK(remote.message.starts_with("unresolvable reference"));
  auto local = refusal(R"({"$ref": "#/$defs/nothing"})");
  CHECK(local.path == "#/$ref");
  auto anchor = refusal(R"({"$ref": "#nowhere"})");
  CHECK(anchor.message.find("no such anchor") != std::string::npos);
}

TEST_CASE("remote references resolve against the registry only", "[schema][compile]") {
  registry known;
  REQUIRE(known.add("https://example.com/sku.json", boost::json::parse(R"({"type": "string"})")));
  CHECK_FALSE(known.add("relative.json", boost::json::parse("{}")));
  auto v = validator::compile(
    boost::json::parse(R"({"properties": {"sku": {"$ref": "https://example.com/sku.json"}}})"), {},
    known);
  REQUIRE(v);
  auto result = v->validate(boost::json::parse(R"({"sku": 1})"));
  REQUIRE(result.errors().size() == 1);
  CHECK(result.errors()[0].schema_path == "https://example.com/sku.json#/type");
}

TEST_CASE("the official metaschema is built in", "[schema][compile]") {
  auto v = validator::compile(
    boost::json::parse(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})"));
  REQUIRE(v);
  CHECK(v->is_valid(boost::json::parse(R"({"minLength": 1})")));
  CHECK_FALSE(v->is_valid(boost::json::parse(R"({"minLength": -1})")));
}

TEST_CASE("$ref cycles compile", "[schema][compile]") {
  CHECK(validator::compile(boost::json::parse(R"({"type": "object", "$ref": "#"})")));
  CHECK(validator::compile(boost::json::parse(
    R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})")));
}

TEST_CASE("regular expressions std::regex cannot honour are refused with their path",
          "[schema][compile][regex]") {
  auto property = refusal(R"({"properties": {"name": {"pattern": "\\p{Greek}"}}})");
  CHECK(property.path == "#/properties/name/pattern");
  CHECK(property.message.find("\\p{Greek}") != std::string::npos);
  auto lookbehind = refusal(R"({"pattern": "(?<=a)b"})");
  CHECK(lookbehind.message.find("lookbehind") != std::string::npos);
  auto backref = refusal(R"({"pattern": "(a)\\1"})");
  CHECK(backref.message.find("backreferences") != std::string::npos);
  auto broken = refusal(R"({"patternProperties": {"^(abc": {}}})");
  CHECK(broken.path == "#/patternProperties/^(abc");
  auto escape = refusal(R"({"pattern": "\\a"})");
  CHECK(escape.message.starts_with("invalid ECMA-262 regular expression"));
}

TEST_CASE("a vocabulary marked required but unknown is refused", "[schema][compile]") {
  registry known;
  known.add("https://example.com/meta", boost::json::parse(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
                    "https://example.com/vocab/magic": true}})"));
  auto e = refusal(R"({"$schema": "https://example.com/meta"})", known);
  CHECK(e.path == "https://example.com/meta#/$vocabulary");
}
