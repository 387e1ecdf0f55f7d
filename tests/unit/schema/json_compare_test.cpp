// SPDX-License-Identifier: Apache-2.0
#include "internal/json_compare.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

using namespace cairn::schema::internal;
using boost::json::parse;

TEST_CASE("numbers compare exactly across int64, uint64 and double", "[schema][numbers]") {
  CHECK(compare_numbers(parse("1"), parse("1.0")) == 0);
  CHECK(compare_numbers(parse("-1"), parse("18446744073709551615")) < 0);
  CHECK(compare_numbers(parse("9007199254740993"), parse("9007199254740992.0")) > 0);
  CHECK(compare_numbers(parse("18446744073709551615"), parse("1.8446744073709552e19")) < 0);
  CHECK(compare_numbers(parse("2.5"), parse("2")) > 0);
  CHECK(compare_numbers(parse("-2.5"), parse("-2")) < 0);
}

TEST_CASE("JSON equality ignores member order and number representation", "[schema][numbers]") {
  CHECK(json_equal(parse(R"({"a": 1, "b": [1.0, {}]})"), parse(R"({"b": [1, {}], "a": 1.0})")));
  CHECK_FALSE(json_equal(parse("[1]"), parse("[true]")));
  CHECK_FALSE(json_equal(parse("0"), parse("false")));
}

TEST_CASE("multipleOf works on the decimal values", "[schema][numbers]") {
  CHECK(is_multiple_of(parse("0.0075"), parse("0.0001")));
  CHECK_FALSE(is_multiple_of(parse("0.00751"), parse("0.0001")));
  CHECK(is_multiple_of(parse("12391239123"), parse("1e-8")));
  CHECK_FALSE(is_multiple_of(parse("1e308"), parse("0.123456789")));
  CHECK(is_multiple_of(parse("19.99"), parse("0.01")));
  CHECK(is_multiple_of(parse("4.5"), parse("1.5")));
  CHECK_FALSE(is_multiple_of(parse("35"), parse("1.5")));
  CHECK(is_integer(parse("1.0")));
  CHECK_FALSE(is_integer(parse("1.5")));
}
