// SPDX-License-Identifier: Apache-2.0
// Typed messages and JSON, the codec on its own: field names, any order,
// refusals that name the field (inside maps, pairs and unnamed values too),
// and types without field names as arrays.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/json_codec.hpp"
#include "typed_order.hpp"

using namespace cairn;
using namespace cairn::test::typed;
namespace bj = boost::json;

namespace {

/// A type without field names: JSON is an array of its values.
struct pair_msg {
  std::string a;
  int32_t b = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pair_msg& x) {
  return f(caf::meta::type_name("test.pair"), x.a, x.b);
}

/// Values inside containers: errors name the key and the position.
struct tagged {
  std::map<std::string, std::vector<int32_t>> tags;
  std::pair<std::string, uint8_t> first;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tagged& x) {
  return f(caf::meta::type_name("test.tagged"), field{"tags"}, x.tags, field{"first"}, x.first);
}

/// Names one field twice: a key the object holds must still not stand for
/// one it does not.
struct twice {
  int32_t a = 0;
  int32_t b = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, twice& x) {
  return f(field{"a"}, x.a, field{"a"}, x.b);
}

} // namespace

CAIRN_MESSAGE_TYPE(pair_msg, "test.pair/v1");

namespace {

TEST_CASE("a typed message round-trips through JSON by its field names", "[json]") {
  auto c = json::codec_for<order>();
  CHECK(c.type == "test.order/v1");
  std::string in = R"({"customer":"c1","qty":3,"skus":["milk","tea"],)"
                   R"("ship_to":{"city":"north","note":null},"how":1})";
  auto bytes = c.from_json(in);
  REQUIRE(bytes);
  // The node API decodes the value it parsed already: the same bytes.
  auto parsed = bj::parse(in);
  auto from_value = c.from_json_value(&parsed);
  REQUIRE(from_value);
  CHECK(*from_value == *bytes);
  auto o = decode<order>(*bytes);
  REQUIRE(o);
  CHECK(o->customer == "c1");
  CHECK(o->qty == 3);
  CHECK(o->skus == std::vector<std::string>{"milk", "tea"});
  CHECK(o->ship_to.city == "north");
  CHECK_FALSE(o->ship_to.note);
  CHECK(o->how == speed::express);
  auto back = c.to_json(*bytes);
  REQUIRE(back);
  CHECK(bj::parse(*back) == bj::parse(in));
  // Field names are annotations: the binary encoding is the same as
  // without them.
  CHECK(encode(*o).size() > 0);
}

TEST_CASE("a payload's fields read the same in any order", "[json]") {
  // The reader tries each field's declared position before searching the
  // object: members elsewhere must still be found, and only by name.
  auto c = json::codec_for<order>();
  std::vector<std::string> members{R"("customer":"c1")", R"("qty":3)", R"("skus":["milk"])",
                                   R"("ship_to":{"note":"gate","city":"north"})", R"("how":1)"};
  auto text = [&] {
    std::string out = "{";
    for (const auto& m : members)
      out += (out.size() > 1 ? "," : "") + m;
    return out + "}";
  };
  auto declared = bj::parse(text());
  auto want = c.from_json_value(&declared);
  REQUIRE(want);
  std::sort(members.begin(), members.end());
  int orders = 0;
  do {
    auto v = bj::parse(text());
    auto got = c.from_json_value(&v);
    INFO(text());
    REQUIRE(got);
    CHECK(*got == *want);
    ++orders;
  } while (std::next_permutation(members.begin(), members.end()));
  CHECK(orders == 120);
}

TEST_CASE("a payload that does not fit its type is refused naming the field", "[json]") {
  auto c = json::codec_for<order>();
  auto detail = [&](const std::string& text) {
    auto r = c.from_json(text);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == errc::invalid_payload);
    // From the parsed value (the node API's way), the same refusal.
    boost::system::error_code ec;
    auto parsed = bj::parse(text, ec);
    if (!ec) {
      auto v = c.from_json_value(&parsed);
      REQUIRE_FALSE(v);
      CHECK(render(v.error()) == render(r.error()));
    }
    return render(r.error());
  };
  std::string ok_rest = R"("skus":[],"ship_to":{"city":"x"},"how":0)";
  CHECK_THAT(detail(R"({"customer":5,"qty":1,)" + ok_rest + "}"),
             Catch::Contains("payload.customer: expected a string, got 5"));
  CHECK_THAT(detail(R"({"qty":1,)" + ok_rest + "}"), Catch::Contains("payload.customer: missing"));
  CHECK_THAT(detail(R"({"customer":"c","qty":-1,)" + ok_rest + "}"),
             Catch::Contains("payload.qty: expected an unsigned integer, got -1"));
  CHECK_THAT(detail(R"({"customer":"c","qty":4294967296,)" + ok_rest + "}"),
             Catch::Contains("payload.qty: 4294967296 is out of range"));
  CHECK_THAT(detail(R"({"customer":"c","qty":1,"skus":["a",2],"ship_to":{"city":"x"},"how":0})"),
             Catch::Contains("payload.skus[1]: expected a string, got 2"));
  CHECK_THAT(detail(R"({"customer":"c","qty":1,"skus":[],"ship_to":{"town":"x"},"how":0})"),
             Catch::Contains("payload.ship_to.city: missing"));
  CHECK_THAT(detail(R"({"customer":"c","qty":1,"colour":"red",)" + ok_rest + "}"),
             Catch::Contains("payload.colour: unknown field"));
  CHECK_THAT(detail(R"({"customer":"c","qty":1,"skus":[],"ship_to":{"city":"x","zip":1},"how":0})"),
             Catch::Contains("payload.ship_to.zip: unknown field"));
  CHECK_THAT(detail(R"({"customer":"c","qty":1,"skus":[],"ship_to":{"city":3},"how":0})"),
             Catch::Contains("payload.ship_to.city: expected a string, got 3"));
  CHECK_THAT(detail("[1,2"), Catch::Contains("not valid JSON"));
  CHECK_THAT(detail("7"), Catch::Contains("payload: expected an object, got 7"));
}

TEST_CASE("errors inside maps, pairs and unnamed values name the key and the position", "[json]") {
  auto read = [](const std::string& text) {
    tagged x;
    auto err = json::from_value(bj::parse(text), x, "payload");
    REQUIRE(err);
    return render(err);
  };
  CHECK_THAT(read(R"({"tags":{"a":[1],"b":[2,"x"]},"first":["k",1]})"),
             Catch::Contains(R"(payload.tags.b[1]: expected an integer, got "x")"));
  CHECK_THAT(read(R"({"tags":{},"first":["k",300]})"),
             Catch::Contains("payload.first[1]: 300 is out of range"));
  CHECK_THAT(read(R"({"tags":{},"first":"k"})"),
             Catch::Contains(R"(payload.first: expected an array of two, got "k")"));
  tagged ok;
  REQUIRE_FALSE(
    json::from_value(bj::parse(R"({"tags":{"a":[1,-2]},"first":["k",7]})"), ok, "payload"));
  CHECK(ok.tags.at("a") == std::vector<int32_t>{1, -2});
  CHECK(ok.first == std::pair<std::string, uint8_t>{"k", 7});
  // Unnamed values read by position.
  auto c = json::codec_for<pair_msg>();
  auto short_one = c.from_json(R"(["x"])");
  REQUIRE_FALSE(short_one);
  CHECK_THAT(render(short_one.error()), Catch::Contains("payload[1]: missing"));
  auto long_one = c.from_json(R"(["x",1,2])");
  REQUIRE_FALSE(long_one);
  CHECK_THAT(render(long_one.error()), Catch::Contains("payload: 2 values expected, got 3"));
}

TEST_CASE("a field read twice does not hide an unknown key", "[json]") {
  twice x;
  auto err = json::from_value(bj::parse(R"({"a":1,"zzz":2})"), x, "payload");
  REQUIRE(err);
  CHECK_THAT(render(err), Catch::Contains("payload.zzz: unknown field"));
  CHECK_FALSE(json::from_value(bj::parse(R"({"a":1})"), x, "payload"));
  CHECK(x.b == 1);
}

TEST_CASE("a type without field names is a JSON array of its values", "[json]") {
  auto c = json::codec_for<pair_msg>();
  auto bytes = c.from_json(R"(["x",-4])");
  REQUIRE(bytes);
  auto back = c.to_json(*bytes);
  REQUIRE(back);
  CHECK(*back == R"(["x",-4])");
  auto extra = c.from_json(R"(["x",-4,5])");
  REQUIRE_FALSE(extra);
  CHECK_THAT(render(extra.error()), Catch::Contains("2 values expected, got 3"));
}

} // namespace
