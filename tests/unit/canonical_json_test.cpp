// SPDX-License-Identifier: Apache-2.0
// Canonical JSON (RFC 8785 JCS) and SHA-256: the bytes and the hash an approval covers must be
// the same whatever order or spelling the arguments arrived in.
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include <boost/json.hpp>

#include "cairn/workflow/canonical_json.hpp"

using namespace cairn::workflow;
namespace json = boost::json;

namespace {

std::string canon(const char* text) {
  return canonical_json(json::parse(text));
}

std::string canon_bits(std::uint64_t bits) {
  return canonical_json(json::value(std::bit_cast<double>(bits)));
}

// The RFC's input numbers, each the double nearest its text. Why strtod and not json::parse:
// Boost.JSON 1.81's parser is not correctly rounded (it reads 333333333.33333329 as the double
// after the nearest one, 333333333.33333325); canonical_json can only write what it is given.
json::array rfc_numbers() {
  json::array out;
  for (const char* text :
       {"333333333.33333329", "1E30", "4.50", "2e-3", "0.000000000000000000000000001"})
    out.emplace_back(std::strtod(text, nullptr));
  return out;
}

} // namespace

TEST_CASE("numbers are written in their shortest ECMAScript form (RFC 8785 appendix B)",
          "[canonical_json]") {
  const std::pair<std::uint64_t, const char*> cases[] = {
    {0x0000000000000000, "0"},
    {0x8000000000000000, "0"},
    {0x0000000000000001, "5e-324"},
    {0x8000000000000001, "-5e-324"},
    {0x7fefffffffffffff, "1.7976931348623157e+308"},
    {0xffefffffffffffff, "-1.7976931348623157e+308"},
    {0x4340000000000000, "9007199254740992"},
    {0xc340000000000000, "-9007199254740992"},
    {0x4430000000000000, "295147905179352830000"},
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& [bits, text] : cases) {
    INFO(std::hex << bits);
    CHECK(canon_bits(bits) == text);
  }
}

TEST_CASE("parsed numbers take the ECMAScript form whatever their spelling", "[canonical_json]") {
  CHECK(canonical_json(rfc_numbers()) == "[333333333.3333333,1e+30,4.5,0.002,1e-27]");
  CHECK(canon("[1E30, 4.50, 2e-3, 0.000000000000000000000000001]") == "[1e+30,4.5,0.002,1e-27]");
  CHECK(canon("[1e21, 1e20, 1e-7, 1e-6, 123e-20, 0.1, -1.5, 2.0, -0.0]")
        == "[1e+21,100000000000000000000,1e-7,0.000001,1.23e-18,0.1,-1.5,2,0]");
  // Integers the parser holds exactly stay exact.
  CHECK(canon("[0, -7, 9223372036854775807, -9223372036854775808, 18446744073709551615]")
        == "[0,-7,9223372036854775807,-9223372036854775808,18446744073709551615]");
}

TEST_CASE("the RFC 8785 section 3.2.2 example canonicalizes byte for byte", "[canonical_json]") {
  const char* input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  auto doc = json::parse(input);
  doc.as_object()["numbers"] = rfc_numbers(); // see rfc_numbers: the same values, exactly rounded
  CHECK(canonical_json(doc)
        == "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
           "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST_CASE("object keys sort by UTF-16 code units, not UTF-8 bytes (RFC 8785 section 3.2.3)",
          "[canonical_json]") {
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  auto out = canon(input);
  // Byte order would put the emoji (F0 9F 98 80) after U+FB33 (EF AC B3); UTF-16 order puts its
  // surrogates (D83D DE00) before it.
  CHECK(out
        == "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
           "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
           "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
           "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST_CASE("strings escape only quote, backslash and control characters", "[canonical_json]") {
  json::value v = json::string("a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f \xc3\xa9");
  CHECK(canonical_json(v) == "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f \xc3\xa9\"");
}

TEST_CASE("nested objects sort at every level and whitespace disappears", "[canonical_json]") {
  CHECK(canon(R"( { "b" : [ {"z":1, "a":{"y":null,"x":[]}} ], "a" : {} } )")
        == R"({"a":{},"b":[{"a":{"x":[],"y":null},"z":1}]})");
  CHECK(canon(R"({"aa":1,"a":2,"":3,"B":4})") == R"({"":3,"B":4,"a":2,"aa":1})");
}

TEST_CASE("sha256_hex matches the FIPS 180-4 test vectors", "[sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1'000'000, 'a'))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_hex pads correctly at every block boundary", "[sha256]") {
  // Expected values from coreutils sha256sum: lengths around the 55/56 and 64-byte edges where
  // the length field spills into a second padding block.
  const std::pair<std::size_t, const char*> cases[] = {
    {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
    {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
    {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
    {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
    {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
    {120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
  };
  for (const auto& [n, hex] : cases) {
    INFO(n << " bytes");
    CHECK(sha256_hex(std::string(n, 'x')) == hex);
  }
}

TEST_CASE("arguments_sha256 hashes the canonical form, so key order and spelling do not matter",
          "[canonical_json][sha256]") {
  auto a = json::parse(R"({"b": 1, "a": "x"})").as_object();
  auto b = json::parse(R"({"a":"x","b":1.0})").as_object();
  CHECK(arguments_sha256(a) == "cdab067e9f3beb32d1252cfd63e492592fecbf591b0d08cadb24bb17f3864246");
  CHECK(arguments_sha256(b) == arguments_sha256(a));
  auto c = json::parse(R"({"a":"x","b":2})").as_object();
  CHECK(arguments_sha256(c) != arguments_sha256(a));
}
