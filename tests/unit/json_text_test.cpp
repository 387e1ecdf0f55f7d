// SPDX-License-Identifier: Apache-2.0
// Typed messages read straight from JSON text agree with the JSON tree's
// reader: wherever the text reader answers, the tree reads the same bytes;
// every mutation of valid payloads is read both ways. The text reader also
// answers for the payloads senders write (fields in their declared order,
// whitespace, escapes), so the fast path is the one taken.
#include <map>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/bench.hpp"
#include "cairn/codec.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/json_text.hpp"

using namespace cairn;
namespace bj = boost::json;

namespace {

enum class level : int8_t { low = -1, mid = 0, high = 1 };

struct place {
  std::string city;
  caf::optional<std::string> note;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, place& x) {
  return f(caf::meta::type_name("text.place"), field{"city"}, x.city, field{"note"}, x.note);
}

/// Every mapping the codec has, once.
struct everything {
  std::string name;
  uint32_t qty = 0;
  int16_t delta = 0;
  uint64_t big = 0;
  int64_t small = 0;
  double ratio = 0;
  bool urgent = false;
  level how = level::mid;
  std::vector<std::string> skus;
  std::map<std::string, std::vector<int32_t>> tags;
  std::pair<std::string, uint8_t> first;
  caf::optional<uint32_t> maybe;
  place at;
  std::vector<place> stops;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, everything& x) {
  return f(caf::meta::type_name("text.everything"), field{"name"}, x.name, field{"qty"}, x.qty,
           field{"delta"}, x.delta, field{"big"}, x.big, field{"small"}, x.small, field{"ratio"},
           x.ratio, field{"urgent"}, x.urgent, field{"how"}, x.how, field{"skus"}, x.skus,
           field{"tags"}, x.tags, field{"first"}, x.first, field{"maybe"}, x.maybe, field{"at"},
           x.at, field{"stops"}, x.stops);
}

/// Values without names: the text reader leaves them to the tree.
struct unnamed {
  std::string a;
  int32_t b = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unnamed& x) {
  return f(caf::meta::type_name("text.unnamed"), x.a, x.b);
}

/// Floating-point fields, for numbers past their range.
struct gauge {
  float level = 0;
  double reading = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gauge& x) {
  return f(caf::meta::type_name("text.gauge"), field{"level"}, x.level, field{"reading"},
           x.reading);
}

} // namespace

CAIRN_MESSAGE_TYPE(everything, "text.everything/v1");
CAIRN_MESSAGE_TYPE(gauge, "text.gauge/v1");
CAIRN_MESSAGE_TYPE(unnamed, "text.unnamed/v1");

namespace {

/// The text reader's answer for the whole of `text` (it reads the value at
/// its start; only whitespace may follow).
bool whole(const message_codec& c, std::string_view text, std::string& out) {
  auto took = c.from_json_text(text, out);
  return took != 0 && text.find_first_not_of(" \t\r\n", took) == std::string_view::npos;
}

/// Reads `text` both ways. The text reader may decline; when it answers,
/// the tree must answer the same bytes. Returns whether the text reader answered.
bool agree(const message_codec& c, const std::string& text) {
  std::string fast;
  bool answered = whole(c, text, fast);
  auto slow = c.from_json(text);
  // The node API's way: from the parsed value, unless a double is in it.
  boost::system::error_code ec;
  auto parsed = bj::parse(text, ec);
  if (answered) {
    INFO(text);
    REQUIRE(slow);
    CHECK(*slow == fast);
    REQUIRE_FALSE(ec);
    auto from_value = c.from_json_value(&parsed);
    REQUIRE(from_value);
    CHECK(*from_value == fast);
  }
  return answered;
}

const std::string full_order =
  R"({"name":"c\u00e9 \"x\"\n\ud83d\ude00","qty":4294967295,"delta":-32768,)"
  R"("big":18446744073709551615,"small":-9223372036854775808,"ratio":3,"urgent":true,)"
  R"("how":-1,"skus":["milk","tea",""],"tags":{"b":[1,-2],"a":[]},"first":["x",255],)"
  R"("maybe":7,"at":{"city":"north","note":null},"stops":[{"city":"s"},{"city":"t","note":"n"}]})";

const std::string spaced_order = " {\n \"name\" : \"n\" ,\t\"qty\":1,\"delta\":0,\"big\":0,"
                                 "\"small\":0,\"ratio\":-5,\"urgent\":false,\"how\":0,"
                                 "\"skus\":[ ],\"tags\":{ },\"first\":[\"\",0],"
                                 "\"at\":{\"city\":\"c\"},\"stops\":[]\r\n} ";

TEST_CASE("payloads written in declared order are read from their text", "[json]") {
  auto c = json::codec_for<everything>();
  REQUIRE(c.from_json_text);
  for (const auto& text : {full_order, spaced_order}) {
    CHECK(agree(c, text));
  }
  // The values themselves, decoded from the bytes the text reader stored.
  std::string bytes;
  REQUIRE(whole(c, full_order, bytes));
  // It reads the value at the start of the text and says where it ends: a
  // batch reads on from there.
  std::string again;
  CHECK(c.from_json_text(full_order + R"(,{"next":1}])", again) == full_order.size());
  CHECK(again == bytes);
  auto x = decode<everything>(bytes);
  REQUIRE(x);
  CHECK(x->name == "c\xc3\xa9 \"x\"\n\xf0\x9f\x98\x80");
  CHECK(x->qty == 4294967295U);
  CHECK(x->delta == -32768);
  CHECK(x->big == 18446744073709551615ULL);
  CHECK(x->small == INT64_MIN);
  CHECK(x->ratio == 3.0);
  CHECK(x->how == level::low);
  CHECK(x->tags.at("b") == std::vector<int32_t>{1, -2});
  CHECK(x->first == std::pair<std::string, uint8_t>{"x", 255});
  CHECK(x->maybe == caf::optional<uint32_t>{7U});
  CHECK_FALSE(x->at.note);
  REQUIRE(x->stops.size() == 2);
  CHECK(x->stops[1].note == caf::optional<std::string>{"n"});
  // The bench's own message, as `cairn bench` writes it.
  auto b = json::codec_for<actors::bench_msg>();
  CHECK(agree(b, R"({"run":"r1","seq":12,"sent_us":1733000000000000,"hops":0,"actors":4,)"
                 R"("pad":")"
                   + std::string(8, 'x') + R"("})"));
}

TEST_CASE("the text reader declines what the tree decides", "[json]") {
  auto c = json::codec_for<everything>();
  std::string fast;
  auto declines = [&](const std::string& text) {
    INFO(text);
    CHECK_FALSE(whole(c, text, fast));
  };
  auto with = [&](const std::string& from, const std::string& to) {
    auto text = full_order;
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  declines(with(R"("ratio":3)", R"("ratio":2.5)"));             // a double: the tree's way
  declines(with(R"("qty":4294967295)", R"("qty":4294967296)")); // out of range: the tree's error
  declines(with(R"("delta":-32768)", R"("delta":-0)"));
  declines(with(R"("name":)", R"("nam\u0065":)"));            // an escaped key
  declines(with(R"("maybe":7,)", R"("maybe":7,"extra":1,)")); // an unknown field
  declines(with(R"("qty":4294967295,"delta":-32768,)", R"("delta":-32768,"qty":4294967295,)"));
  declines(with(R"("tags":{"b":[1,-2],)", R"("tags":{"b":[1,-2],"b":[],)")); // a repeated key
  declines(with(R"(\ud83d\ude00)", R"(\ud83d)"));                            // a lone surrogate
  declines(full_order + ",");
  declines(R"(["x",1])");
  auto u = json::codec_for<unnamed>();
  CHECK_FALSE(whole(u, R"(["x",1])", fast));
  // Each still reads through the tree, which says what is wrong, or reads it.
  CHECK(c.from_json(with(R"("ratio":3)", R"("ratio":2.5)")));
  CHECK_FALSE(c.from_json(with(R"("qty":4294967295)", R"("qty":4294967296)")));
  CHECK(u.from_json(R"(["x",1])"));
}

TEST_CASE("every one-byte change of a payload reads the same both ways", "[json]") {
  auto c = json::codec_for<everything>();
  const std::string bytes = " {}[],:\"\\/0123456789-+.eEtrufalsn\x01\x7f\x80\xc3\xa9\xed\xf4\xff";
  size_t texts = 0, answered = 0;
  for (const auto& base : {full_order, spaced_order}) {
    for (size_t i = 0; i < base.size(); ++i) {
      auto cut = base; // the byte removed
      cut.erase(i, 1);
      answered += agree(c, cut);
      ++texts;
      for (char b : bytes) {
        auto changed = base;
        changed[i] = b;
        answered += agree(c, changed);
        auto added = base;
        added.insert(i, 1, b);
        answered += agree(c, added);
        texts += 2;
      }
    }
  }
  // Some changes keep the payload valid and plain (a digit for a digit, a
  // space added): those the text reader reads itself.
  CHECK(answered > 100);
  CHECK(answered < texts);
}

TEST_CASE("every order of a payload's fields reads the same both ways", "[json]") {
  auto c = json::codec_for<actors::bench_msg>();
  std::vector<std::string> members{R"("run":"r")", R"("seq":1)",    R"("sent_us":-5)",
                                   R"("hops":2)",  R"("actors":3)", R"("pad":"p")"};
  std::sort(members.begin(), members.end());
  int orders = 0, answered = 0;
  do {
    std::string text = "{";
    for (const auto& m : members)
      text += (text.size() > 1 ? "," : "") + m;
    text += "}";
    answered += agree(c, text);
    ++orders;
  } while (std::next_permutation(members.begin(), members.end()));
  CHECK(orders == 720);
  CHECK(answered == 1); // the declared order only; the tree reads the others
}

TEST_CASE("strings and integers read from text as Boost.JSON reads them", "[json]") {
  // Seeded: every run reads the same texts.
  std::mt19937 rng{20261207};
  const std::vector<std::string> pieces{
    "a",        "\\n",          "\\u0041",          "\\u00e9",  "\\ud83d\\ude00",
    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\\"",     "\\/",
    "\\u0000",  "\\ud800",      "\xed\xa0\x80",     "\xc0\xaf", "\x01",
    "\\x",      "\\uZZZZ",      "\xf5\x80\x80\x80"};
  for (int n = 0; n < 3000; ++n) {
    std::string lit = "\"";
    for (int k = std::uniform_int_distribution<int>{0, 4}(rng); k > 0; --k)
      lit += pieces[std::uniform_int_distribution<size_t>{0, pieces.size() - 1}(rng)];
    lit += "\"";
    json::text_cursor in{lit};
    std::string got;
    bool ok = in.string(got) && in.at_end();
    boost::system::error_code ec;
    auto v = bj::parse(lit, ec);
    INFO(lit);
    if (ok) {
      REQUIRE_FALSE(ec);
      CHECK(std::string{v.as_string()} == got);
    }
    if (!ec && lit.find("\\ud800") == std::string::npos)
      CHECK(ok); // only lone surrogates are left to Boost.JSON
  }
  for (std::string num : {"0", "1", "-1", "9223372036854775807", "9223372036854775808",
                          "-9223372036854775808", "18446744073709551615", "-42"}) {
    json::text_cursor in{num};
    uint64_t mag = 0;
    bool neg = false;
    INFO(num);
    REQUIRE(in.integer(mag, neg));
    auto v = bj::parse(num);
    if (v.is_int64())
      CHECK((neg ? -static_cast<int64_t>(mag - 1) - 1 : static_cast<int64_t>(mag))
            == v.get_int64());
    else
      CHECK((!neg && v.is_uint64() && v.get_uint64() == mag));
  }
  for (std::string num :
       {"-0", "01", "1.0", "1e2", "18446744073709551616", "-9223372036854775809"}) {
    json::text_cursor in{num};
    uint64_t mag = 0;
    bool neg = false;
    INFO(num);
    CHECK_FALSE((in.integer(mag, neg) && in.at_end()));
  }
}

} // namespace

TEST_CASE("a number past a float's range is refused, not stored as infinity", "[json]") {
  auto c = json::codec_for<gauge>();
  REQUIRE(c.from_json(R"({"level":1.5,"reading":2})"));
  for (const char* text : {R"({"level":1e39,"reading":2})", R"({"level":-1e39,"reading":2})"}) {
    INFO(text);
    auto r = c.from_json(text);
    REQUIRE_FALSE(r);
    CHECK(render(r.error()).find("payload.level: out of range for a float") != std::string::npos);
  }
  // Past a double's range: refused, whether the parser or the codec says so.
  CHECK_FALSE(c.from_json(R"({"level":1,"reading":1e400})"));
}
