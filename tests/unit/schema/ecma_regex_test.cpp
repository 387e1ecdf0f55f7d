// SPDX-License-Identifier: Apache-2.0
#include "internal/ecma_regex.hpp"

#include <catch2/catch.hpp>

using cairn::schema::internal::ecma_regex;
using cairn::schema::internal::is_ecma_regex;

namespace {

bool matches(std::string_view pattern, std::string_view text) {
  std::string error;
  auto re = ecma_regex::compile(pattern, error);
  if (!re)
    FAIL(pattern << ": " << error);
  return re->search(text);
}

} // namespace

TEST_CASE("patterns use ECMA-262 Unicode semantics", "[schema][regex]") {
  CHECK(matches("^.$", "\xF0\x9F\x90\xB2")); // one code point, four bytes
  CHECK(matches("^\\s$", "\xE2\x80\x83"));   // EM SPACE
  CHECK_FALSE(matches("^\\w$", "\xC3\xA9")); // é is not \w
  CHECK(matches("^\\u{1F432}$", "\xF0\x9F\x90\xB2"));
  CHECK(matches("^\\ud83d\\udc32$", "\xF0\x9F\x90\xB2"));
  CHECK(matches("^[^\\d]$", "x"));
  CHECK(matches("^(?<year>\\d{4})-\\d{2}$", "2024-01"));
  CHECK_FALSE(matches("^abc$", "abc\n"));
  CHECK(matches("^\\cC$", "\x03"));
  CHECK(matches("^\\P{L}+$", "123"));
}

TEST_CASE("format regex accepts ECMA-262 syntax std::regex lacks", "[schema][regex]") {
  CHECK(is_ecma_regex("(?<=a+)b"));
  CHECK(is_ecma_regex("(?<n>a)\\k<n>"));
  CHECK(is_ecma_regex("[]"));
  CHECK_FALSE(is_ecma_regex("(?P<name>x)"));
  CHECK_FALSE(is_ecma_regex("^(abc]"));
  CHECK_FALSE(is_ecma_regex("\\a"));
}
