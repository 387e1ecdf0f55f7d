// SPDX-License-Identifier: Apache-2.0
// The node API's bounded reads, over real HTTP on loopback and a real
// runtime on disk: actor lists run off the I/O threads, and a dead-letter
// filter examines a bounded number of rows per request.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actor.hpp"
#include "cairn/http.hpp"
#include "cairn/node_api.hpp"
#include "cairn/plain_json.hpp"
#include "cairn/runtime.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

/// Gates the state rebuild of `slow` actors: `describe()` waits until the
/// test opens it (bounded, so a broken build cannot hang the run).
struct gate {
  std::atomic<bool> entered{false};
  std::atomic<bool> open{false};
};

gate* the_gate = nullptr;

/// Journals every message; showing its state waits at the gate.
class slow_actor final : public durable_actor {
public:
  caf::error handle(context& ctx, const envelope&) override {
    ctx.emit_raw("slow.seen/v1", "x");
    return {};
  }
  caf::error apply(std::string_view, std::string_view) override { return {}; }
  std::optional<std::string> describe() const override {
    the_gate->entered.store(true);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    while (!the_gate->open.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    return std::string{"{}"};
  }
};

/// Fails every message (one attempt: straight to the dead letters).
class failing_actor final : public durable_actor {
public:
  caf::error handle(context&, const envelope&) override {
    return make_error(errc::handler_failed, "refused on purpose");
  }
  caf::error apply(std::string_view, std::string_view) override { return {}; }
};

envelope message_to(std::string to) {
  envelope env;
  env.from = "external";
  env.to = std::move(to);
  env.type = "test.msg/v1";
  env.payload = "x";
  return env;
}

std::unique_ptr<runtime> start_runtime(test::temp_dir& dir) {
  runtime_options ro;
  ro.data_dir = dir.sub("data");
  ro.threads = 2;
  auto rt = runtime::open(ro);
  REQUIRE(rt);
  REQUIRE_FALSE(
    (*rt)->register_kind("slow", [](std::string_view) { return std::make_unique<slow_actor>(); }));
  kind_options once;
  once.retry.max_attempts = 1;
  REQUIRE_FALSE((*rt)->register_kind(
    "fail", [](std::string_view) { return std::make_unique<failing_actor>(); }, once));
  REQUIRE_FALSE((*rt)->start());
  return std::move(*rt);
}

std::unique_ptr<http_server> serve(runtime& rt, size_t io_threads,
                                   node_api_options api = node_api_options{}) {
  http_server_options opts;
  opts.port = 0;
  opts.threads = io_threads;
  auto srv = http_server::start(opts, make_node_api(rt, std::move(api)));
  REQUIRE(srv);
  return std::move(*srv);
}

} // namespace

TEST_CASE("listing actors whose state is slow to rebuild holds no HTTP I/O thread",
          "[api][bounds]") {
  gate g;
  the_gate = &g;
  test::temp_dir dir;
  auto rt = start_runtime(dir);
  REQUIRE(rt->accept(message_to("slow/a")));
  REQUIRE(test::eventually([&] { return rt->stats().processed >= 1; }));
  // One I/O thread: if the list ran on it, nothing else could be answered.
  // One read thread and no queue, to hit the read pool's bound.
  node_api_options api;
  api.read_threads = 1;
  api.read_queue = 0;
  auto srv = serve(*rt, 1, api);
  auto port = srv->port();

  test::http_reply listed;
  std::thread lister{[&] { listed = test::http_call(port, "GET", "/api/v1/actors?limit=1000"); }};
  struct joiner {
    gate& g;
    std::thread& t;
    ~joiner() {
      g.open.store(true); // also when a check below fails
      if (t.joinable())
        t.join();
    }
  } join_lister{g, lister};
  REQUIRE(test::eventually([&] { return g.entered.load(); }));

  // While the list still waits for the state, the node answers others.
  auto health = test::http_call(port, "GET", "/healthz");
  CHECK(health.status == 200);
  auto status = test::http_call(port, "GET", "/api/v1/status");
  CHECK(status.status == 200);
  // Another heavy read finds the pool busy: 503 with Retry-After, at once.
  auto busy = test::http_call(port, "GET", "/api/v1/actors/slow%2Fa");
  CHECK(busy.status == 503);
  CHECK(busy.header("retry-after") == "1");
  CHECK(busy.body.find("\"busy\"") != std::string::npos);
  CHECK_FALSE(g.open.load());

  g.open.store(true);
  lister.join();
  REQUIRE(listed.status == 200);
  auto body = json::parse(listed.body).as_object();
  REQUIRE(body.at("actors").as_array().size() == 1);
  CHECK(body.at("actors").at(0).at("id") == "slow/a");
  // With the pool free again, the same read is served.
  CHECK(test::eventually(
    [&] { return test::http_call(port, "GET", "/api/v1/actors/slow%2Fa").status == 200; }));
  srv->stop();
  rt->stop();
}

TEST_CASE("a dead-letter filter that matches nothing examines a bounded number of rows and "
          "answers with a cursor",
          "[api][bounds][dlq]") {
  gate g;
  g.open.store(true);
  the_gate = &g;
  test::temp_dir dir;
  auto rt = start_runtime(dir);
  const size_t count = 1'500; // more than one request examines
  for (size_t i = 0; i < count; ++i)
    REQUIRE(rt->accept(message_to("fail/k" + std::to_string(i))));
  REQUIRE(test::eventually([&] { return rt->stats().dead_lettered == count; }));
  auto srv = serve(*rt, 2);
  auto port = srv->port();

  // No dead letter matches: the first request stops after its bound and
  // says where to continue; following the cursors reaches the end.
  std::string target = "/api/v1/dead-letters?error=no-such-error&limit=100";
  auto first = test::http_call(port, "GET", target);
  REQUIRE(first.status == 200);
  auto page = json::parse(first.body).as_object();
  INFO(first.body);
  CHECK(page.at("dead_letters").as_array().empty());
  CHECK(page.at("examined").as_int64() == 1'000);
  REQUIRE(page.at("next_cursor").is_string());
  auto cursor = std::string{page.at("next_cursor").as_string()};

  auto second = test::http_call(port, "GET", target + "&cursor=" + cursor);
  REQUIRE(second.status == 200);
  page = json::parse(second.body).as_object();
  CHECK(page.at("dead_letters").as_array().empty());
  CHECK(page.at("examined").as_int64() == static_cast<int64_t>(count - 1'000));
  CHECK(page.at("next_cursor").is_null());

  // A filter that matches everything still fills its page at once.
  auto all = test::http_call(port, "GET", "/api/v1/dead-letters?error=refused&limit=50");
  REQUIRE(all.status == 200);
  page = json::parse(all.body).as_object();
  CHECK(page.at("dead_letters").as_array().size() == 50);
  CHECK(page.at("examined").as_int64() == 50);
  CHECK(page.at("next_cursor").is_string());
  srv->stop();
  rt->stop();
}

TEST_CASE("answers written as text escape every string so it reads back the same", "[api]") {
  // Every byte below 0x20, the two that must be escaped, and UTF-8 beyond ASCII.
  std::string nasty;
  for (int c = 0; c < 0x20; ++c)
    nasty += static_cast<char>(c);
  nasty += "\"quoted\" back\\slash / é ✓";
  std::string text;
  append_json_string(text, nasty);
  auto back = json::parse(text);
  REQUIRE(back.is_string());
  CHECK(std::string{back.as_string()} == nasty);
  // Read eight bytes at a time while none needs escaping: each byte that
  // does, at each place in a word, after plain words, among bytes of UTF-8.
  std::vector<char> specials{'"', '\\'};
  for (int c = 0; c < 0x20; ++c)
    specials.push_back(static_cast<char>(c));
  for (char special : specials)
    for (size_t at = 0; at < 32; ++at) {
      std::string s = "0123456789abcdefghijklmnopqrstuv\xc3\xa9\xe2\x9c\x93"; // then "é✓"
      s[at] = special;
      std::string written;
      append_json_string(written, s);
      INFO("byte " << int(special) << " at " << at);
      auto read = json::parse(written);
      REQUIRE(read.is_string());
      CHECK(std::string{read.as_string()} == s);
    }
  // serialize_plain writes keys and strings the same way, numbers plainly.
  json::object o{{nasty, nasty}, {"n", 12.5}, {"list", json::array{nasty, 1, true, nullptr}}};
  auto plain = serialize_plain(o);
  CHECK(json::parse(plain) == json::value(o));
  CHECK(plain.find("12.5") != std::string::npos);
}

TEST_CASE("a batch refused in part before its write and in part by the node answers each message "
          "in its place",
          "[api][bounds]") {
  test::temp_dir dir;
  runtime_options ro;
  ro.data_dir = dir.sub("data");
  ro.threads = 2;
  ro.max_pending = 3; // a batch of more than three valid messages finds the node busy
  auto opened = runtime::open(ro);
  REQUIRE(opened);
  auto& rt = **opened;
  REQUIRE_FALSE(
    rt.register_kind("slow", [](std::string_view) { return std::make_unique<slow_actor>(); }));
  REQUIRE_FALSE(rt.start());
  auto srv = serve(rt, 1);
  auto port = srv->port();
  auto post = [&](const std::string& body) {
    return test::http_call(port, "POST", "/api/v1/messages:batch", body,
                           {"Content-Type: application/json"});
  };
  std::string valid = R"({"to":"slow/a","type":"test.msg/v1","payload":{"n":1}})";
  std::string invalid = R"({"to":"no-kind-separator","type":"test.msg/v1","payload":1})";

  // Four valid messages do not fit under the cap: refused by the node, after
  // the invalid one the API refused first; the status is that first refusal's.
  auto all = post("[" + invalid + "," + valid + "," + valid + "," + valid + "," + valid + "]");
  CHECK(all.status == 400);
  auto a = json::parse(all.body).as_object();
  CHECK(a.at("accepted").as_int64() == 0);
  CHECK(a.at("refused").as_int64() == 5);
  const auto& ar = a.at("results").as_array();
  REQUIRE(ar.size() == 5);
  CHECK(ar[0].as_object().at("status").as_int64() == 400);
  for (size_t i = 1; i < ar.size(); ++i)
    CHECK(ar[i].as_object().at("code").as_string() == "busy");

  // Two fit: both are taken, each result in its message's place.
  auto some = post("[" + valid + "," + invalid + "," + valid + "]");
  CHECK(some.status == 202);
  auto s = json::parse(some.body).as_object();
  CHECK(s.at("accepted").as_int64() == 2);
  CHECK(s.at("refused").as_int64() == 1);
  const auto& sr = s.at("results").as_array();
  REQUIRE(sr.size() == 3);
  CHECK(sr[0].as_object().at("id").is_string());
  CHECK(sr[0].as_object().at("duplicate").as_bool() == false);
  CHECK(sr[1].as_object().at("status").as_int64() == 400);
  CHECK(sr[2].as_object().at("id").is_string());
  CHECK(sr[0].as_object().at("id") != sr[2].as_object().at("id"));
  REQUIRE(test::eventually([&] { return rt.stats().processed >= 2; }));
  srv->stop();
  rt.stop();
}
