// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "cairn/text_codec.hpp"

using namespace cairn;

TEST_CASE("base64 round-trips every length and matches RFC 4648's vectors", "[text_codec]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
    auto back = base64_decode(base64_encode(bytes));
    REQUIRE(back);
    CHECK(*back == bytes);
  }
}

TEST_CASE("base64 decoding refuses anything but strict padded base64", "[text_codec]") {
  CHECK(base64_decode("Zm9v") == std::optional<std::string>{"foo"});
  CHECK_FALSE(base64_decode("Zm9"));      // length not a multiple of 4
  CHECK_FALSE(base64_decode("Zm9v!A==")); // outside the alphabet
  CHECK_FALSE(base64_decode("Zg==Zm9v")); // padding before the end
  CHECK_FALSE(base64_decode("Z==="));     // too much padding
  CHECK_FALSE(base64_decode("Zm9-"));     // the URL alphabet is not base64
}

TEST_CASE("percent decoding follows RFC 3986: a plus stays a plus", "[text_codec]") {
  CHECK(percent_decode("order%2Fo1") == std::optional<std::string>{"order/o1"});
  CHECK(percent_decode("a+b") == std::optional<std::string>{"a+b"});
  CHECK(percent_decode("a%2Bb%20c") == std::optional<std::string>{"a+b c"});
  CHECK(percent_decode("%e2%82%AC") == std::optional<std::string>{"\xE2\x82\xAC"});
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%2"));
  CHECK_FALSE(percent_decode("%z1"));
  CHECK_FALSE(percent_decode("%-1"));
}

TEST_CASE("form decoding turns a plus into a space, as HTML forms send it", "[text_codec]") {
  CHECK(form_decode("a+b%2Bc") == std::optional<std::string>{"a b+c"});
  CHECK_FALSE(form_decode("a%g0"));
}

TEST_CASE("percent encoding keeps only unreserved characters and round-trips", "[text_codec]") {
  CHECK(percent_encode("order/o1") == "order%2Fo1");
  CHECK(percent_encode("a-z_A.Z~09") == "a-z_A.Z~09");
  CHECK(percent_encode("a b+c") == "a%20b%2Bc");
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes.push_back(static_cast<char>(i));
  CHECK(percent_decode(percent_encode(bytes)) == std::optional<std::string>{bytes});
}

TEST_CASE("constant-time comparison is plain equality in its results", "[text_codec]") {
  CHECK(constant_time_equal("s3cret", "s3cret"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3creT"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3cre"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3crets"));
  CHECK_FALSE(constant_time_equal("s3cret", ""));
  CHECK_FALSE(constant_time_equal("", "x"));
  CHECK(constant_time_equal("", ""));
  // A presented value that is the secret's prefix padded with NULs.
  CHECK_FALSE(constant_time_equal(std::string_view{"ab\0", 3}, "ab"));
}
