// SPDX-License-Identifier: Apache-2.0
// The MCP layer's building blocks, without a transport: request-state
// signing, schema error paths, URI templates, configuration of tools; and
// one server on a real runtime for the bound on waiting tasks/result requests.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "cairn/runtime.hpp"
#include "temp_dir.hpp"

#include "cairn/tools/external_tools.hpp"
#include "internal/request_state.hpp"
#include "internal/schema.hpp"
#include "internal/server_impl.hpp"

using namespace cairn::mcp;

TEST_CASE("HMAC-SHA1 matches RFC 2202", "[mcp]") {
  CHECK(hmac_hex("Jefe", "what do ya want for nothing?")
        == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hmac_hex(std::string(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")
        == "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST_CASE("schema errors name the failing path", "[mcp]") {
  auto schema = compiled_schema::compile(json::parse(
    R"({"type":"object","required":["text"],"properties":{"text":{"type":"string"},
        "items":{"type":"array","items":{"type":"integer"}}}})"));
  REQUIRE(schema);
  CHECK((*schema)->check(json::parse(R"({"text":"ok","items":[1,2]})")).empty());
  auto why = (*schema)->check(json::parse(R"({"text":5})"));
  CHECK(why.find("$.text:") != std::string::npos);
  CHECK(why.find("Failed to validate") == std::string::npos); // the inner cause only
  CHECK((*schema)->check(json::parse(R"({"text":"a","items":[1,"x"]})")).find("$.items[1]:")
        != std::string::npos);
  CHECK((*schema)->check(json::parse("{}")).find("text") != std::string::npos);
  CHECK(!compiled_schema::compile(json::parse(R"({"type":"object","required":5})")));
}

TEST_CASE("URI templates match one segment per variable", "[mcp]") {
  std::map<std::string, std::string> vars;
  CHECK(match_template("cairn://actors/{id}", "cairn://actors/order%2Fo1", vars));
  CHECK(vars["id"] == "order%2Fo1");
  vars.clear();
  CHECK(match_template("cairn://actors/{id}/journal", "cairn://actors/a%2Fb/journal", vars));
  CHECK(vars["id"] == "a%2Fb");
  CHECK_FALSE(match_template("cairn://actors/{id}", "cairn://actors/a/journal", vars));
  CHECK_FALSE(match_template("test://template/{id}/data", "test://template//data", vars));
}

TEST_CASE("tool declarations are checked with the field at fault", "[mcp]") {
  auto ok = tools_from_config(json::parse(
    R"([{"name":"wc","description":"Counts words","type":"exec","command":["/usr/bin/wc"]}])"));
  REQUIRE(ok);
  CHECK(ok->size() == 1);
  auto render_of = [](const char* text) {
    auto r = tools_from_config(json::parse(text));
    return r ? std::string{} : cairn::render(r.error());
  };
  CHECK(render_of(R"([{"name":"wc","type":"exec","command":["/usr/bin/wc"]}])").find("description")
        != std::string::npos);
  CHECK(render_of(R"([{"name":"wc","description":"d","type":"exec","command":["wc"]}])")
          .find("absolute")
        != std::string::npos);
  CHECK(
    render_of(R"([{"name":"a b","description":"d","type":"exec","command":["/x"]}])").find("'name'")
    != std::string::npos);
  CHECK(render_of(R"([{"name":"h","description":"d","type":"http","url":"https://x/"}])")
          .find("https is not supported")
        != std::string::npos);
  CHECK(render_of(R"([{"name":"h","description":"d","type":"exec","command":["/x"],"colour":1}])")
          .find("unknown field 'colour'")
        != std::string::npos);
}

namespace {

/// The messages a stdio client got, by request id.
struct inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, json::object> by_id;

  void put(const std::string& text) {
    auto v = json::parse(text);
    auto& o = v.as_object();
    if (auto id = o.if_contains("id"); id && id->is_int64()) {
      std::lock_guard lock{mu};
      by_id[id->as_int64()] = o;
      cv.notify_all();
    }
  }

  /// The response to request `id`; a bounded wait turns a hang into a failure.
  std::optional<json::object> await(int64_t id) {
    std::unique_lock lock{mu};
    if (!cv.wait_for(lock, std::chrono::seconds{60}, [&] { return by_id.count(id) > 0; }))
      return std::nullopt;
    return by_id[id];
  }

  bool has(int64_t id) {
    std::lock_guard lock{mu};
    return by_id.count(id) > 0;
  }
};

} // namespace

TEST_CASE("tasks/result requests past the bound are refused, the others answered", "[mcp][tasks]") {
  cairn::test::temp_dir dir;
  cairn::runtime_options ro;
  ro.data_dir = dir.sub("data");
  ro.threads = 2;
  auto rt = cairn::runtime::open(ro);
  REQUIRE(rt);
  server_options so;
  so.actor_resources = false;
  server srv{**rt, so};
  std::atomic<bool> release{false};
  tool_spec t;
  t.name = "wait_for_release";
  t.description = "Ends when the test releases it";
  t.handler = [&release](call& c) -> caf::expected<tool_result> {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    while (!release.load() && !c.cancelled() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    return tool_result::text("released");
  };
  srv.add_tool(std::move(t));
  srv.attach();
  REQUIRE_FALSE((*rt)->start());
  inbox in;
  auto write = [&in](std::string m) { in.put(m); };
  auto send = [&](int64_t id, const char* method, json::object params) {
    srv.handle_message(json::serialize(json::object{
                         {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}),
                       write);
  };
  send(1, "initialize",
       json::object{{"protocolVersion", "2025-11-25"},
                    {"capabilities", json::object{}},
                    {"clientInfo", json::object{{"name", "test"}, {"version", "1"}}}});
  REQUIRE(in.await(1));
  send(2, "tools/call",
       json::object{
         {"name", "wait_for_release"}, {"arguments", json::object{}}, {"task", json::object{}}});
  auto created = in.await(2);
  REQUIRE(created);
  REQUIRE(created->contains("result"));
  auto task_id = std::string{created->at("result").at("task").at("taskId").as_string()};

  // Every waiting request up to the bound is accepted (no answer yet); the
  // next one is refused at once, saying why.
  const auto bound = static_cast<int64_t>(max_waiting_results);
  for (int64_t i = 0; i < bound; ++i)
    send(100 + i, "tasks/result", json::object{{"taskId", task_id}});
  send(100 + bound, "tasks/result", json::object{{"taskId", task_id}});
  auto refused = in.await(100 + bound);
  REQUIRE(refused);
  REQUIRE(refused->contains("error"));
  CHECK(refused->at("error").at("code").as_int64() == rpc::internal_error);
  CHECK(std::string{refused->at("error").at("message").as_string()}.find(
          "too many tasks/result requests are waiting")
        != std::string::npos);
  CHECK_FALSE(in.has(100)); // the task still runs: the accepted ones wait

  // Once the task ends, every accepted request gets its result.
  release.store(true);
  for (int64_t i = 0; i < bound; ++i) {
    auto r = in.await(100 + i);
    REQUIRE(r);
    REQUIRE(r->contains("result"));
    CHECK(r->at("result").at("content").at(0).at("text") == "released");
  }
  srv.shutdown();
  (*rt)->stop();
}

TEST_CASE("an elicitation answer that does not match the requested schema never reaches the tool",
          "[mcp][schema][elicitation]") {
  cairn::test::temp_dir dir;
  cairn::runtime_options ro;
  ro.data_dir = dir.sub("data");
  ro.threads = 2;
  auto rt = cairn::runtime::open(ro);
  REQUIRE(rt);
  server_options so;
  so.actor_resources = false;
  server srv{**rt, so};
  tool_spec t;
  t.name = "confirm";
  t.description = "Asks the user to confirm";
  t.handler = [](call& c) -> caf::expected<tool_result> {
    auto schema = json::parse(R"({"type":"object","required":["sure"],
                                  "properties":{"sure":{"type":"boolean"}}})");
    auto a = c.ask("ok", "elicitation/create",
                   json::object{{"message", "Sure?"}, {"requestedSchema", schema}});
    if (!a)
      return tool_result::error(cairn::render(a.error()));
    return tool_result::text("answer: " + json::serialize(*a));
  };
  srv.add_tool(std::move(t));
  srv.attach();
  REQUIRE_FALSE((*rt)->start());
  inbox in;
  auto write = [&in](std::string m) { in.put(m); };
  json::object meta{
    {"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
    {"io.modelcontextprotocol/clientCapabilities", json::object{{"elicitation", json::object{}}}}};
  auto call_round = [&](int64_t id, json::object extra) {
    json::object params{{"name", "confirm"}, {"arguments", json::object{}}, {"_meta", meta}};
    for (auto& [k, v] : extra)
      params[k] = v;
    srv.handle_message(
      json::serialize(
        json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", params}}),
      write);
    auto r = in.await(id);
    REQUIRE(r);
    REQUIRE(r->contains("result"));
    return r->at("result").as_object();
  };
  auto first = call_round(1, {});
  REQUIRE(first.at("resultType") == "input_required");
  auto state = first.at("requestState");

  // Content of the wrong type: the tool hears why, never the content.
  auto bad = call_round(
    2,
    json::object{{"requestState", state},
                 {"inputResponses",
                  json::object{{"ok", json::object{{"action", "accept"},
                                                   {"content", json::object{{"sure", "yes"}}}}}}}});
  INFO(json::serialize(bad));
  CHECK(bad.at("isError") == true);
  auto text = std::string{bad.at("content").at(0).at("text").as_string()};
  CHECK(text.find("does not match the requested schema") != std::string::npos);
  CHECK(text.find("$.sure: expected boolean") != std::string::npos);

  auto good = call_round(
    3,
    json::object{{"requestState", state},
                 {"inputResponses",
                  json::object{{"ok", json::object{{"action", "accept"},
                                                   {"content", json::object{{"sure", true}}}}}}}});
  INFO(json::serialize(good));
  CHECK_FALSE(good.contains("isError"));
  CHECK(std::string{good.at("content").at(0).at("text").as_string()}.find("answer:") == 0);
  srv.shutdown();
  (*rt)->stop();
}
