// SPDX-License-Identifier: Apache-2.0
// The MCP layer's building blocks, without a transport: request-state
// signing, schema error paths, URI templates, configuration of tools; and
// one server on a real runtime for the bound on waiting tasks/result requests.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cairn/runtime.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include "cairn/tools/external_tools.hpp"
#include "internal/deadline_queue.hpp"
#include "internal/request_state.hpp"
#include "internal/schema.hpp"
#include "internal/secure_random.hpp"
#include "internal/server_impl.hpp"

using namespace cairn::mcp;

TEST_CASE("HMAC-SHA1 matches RFC 2202", "[mcp]") {
  CHECK(hmac_hex("Jefe", "what do ya want for nothing?")
        == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hmac_hex(std::string(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")
        == "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST_CASE("a deadline queue runs a function scheduled earlier than the one it waits for, and "
          "never a cancelled one",
          "[mcp]") {
  using clock = deadline_queue::clock;
  deadline_queue q{16};
  std::atomic<int> late{0}, early{0}, dropped{0};
  // The thread waits for this one, a minute away ...
  auto far = q.schedule(clock::now() + std::chrono::minutes{1}, [&] { ++late; });
  REQUIRE(far != 0);
  std::atomic<bool> ran{false};
  REQUIRE(q.schedule(clock::now(), [&] { ran = true; }) != 0);
  REQUIRE(cairn::test::eventually([&] { return ran.load(); }));
  // Let the thread go back to waiting for `far`, so that what follows needs
  // the wake. The verdict does not hang on it: without the wake the two
  // functions below would wait for `far`, a minute away.
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  // ... and must wake for these, scheduled after it but due first.
  auto gone = q.schedule(clock::now() + std::chrono::milliseconds{20}, [&] { ++dropped; });
  REQUIRE(q.cancel(gone));
  REQUIRE(q.schedule(clock::now() + std::chrono::milliseconds{20}, [&] { ++early; }) != 0);
  REQUIRE(q.schedule(clock::now() + std::chrono::milliseconds{30}, [&] { ++early; }) != 0);
  CHECK(cairn::test::eventually([&] { return early.load() == 2; }));
  CHECK(late.load() == 0);
  CHECK(dropped.load() == 0);
  CHECK(q.size() == 1);
  CHECK(q.cancel(far));
  CHECK(q.size() == 0);
}

TEST_CASE("capability ids are lowercase hex of the length asked, and do not repeat", "[mcp]") {
  std::set<std::string> seen;
  for (size_t n : {1, 12, 31, 32}) {
    for (int i = 0; i < 2000; ++i) {
      auto id = secure_random_hex(n);
      REQUIRE(id.size() == n);
      REQUIRE(id.find_first_not_of("0123456789abcdef") == std::string::npos);
      if (n >= 12)
        CHECK(seen.insert(id).second);
    }
  }
  // Every digit turns up in both halves of a byte (a shifted or masked-off
  // nibble would leave some out).
  std::set<char> even, odd;
  for (int i = 0; i < 200; ++i) {
    auto id = secure_random_hex(32);
    for (size_t k = 0; k < id.size(); ++k)
      (k % 2 == 0 ? even : odd).insert(id[k]);
  }
  CHECK(even.size() == 16);
  CHECK(odd.size() == 16);
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

TEST_CASE("a session's waiting questions are bounded and all answered with an error when it ends",
          "[mcp][session][bounds]") {
  auto s = std::make_shared<session>();
  s->id = "bounded";
  std::vector<std::string> ids;
  std::atomic<int> told_ended{0};
  for (size_t i = 0; i < max_pending_requests; ++i) {
    auto rid = s->add_pending([&told_ended](json::object answer) {
      if (answer.contains("error"))
        told_ended.fetch_add(1);
    });
    REQUIRE_FALSE(rid.empty());
    ids.push_back(rid);
  }
  CHECK(s->add_pending([](json::object) {}).empty()); // past the bound: not sent
  CHECK(s->pending_count() == max_pending_requests);
  CHECK(s->take_pending(ids.front()) != nullptr); // the asker stopped waiting
  CHECK(s->take_pending(ids.front()) == nullptr);
  CHECK(s->pending_count() == max_pending_requests - 1);

  session_store store{4};
  store.insert(s);
  CHECK(store.erase("bounded")); // the session ends
  CHECK(s->pending_count() == 0);
  CHECK(told_ended.load() == static_cast<int>(max_pending_requests) - 1);
  CHECK(s->add_pending([](json::object) {}).empty()); // an ended session asks nothing

  // A session evicted as least recently used ends the same way.
  session_store small{1};
  auto old_one = std::make_shared<session>();
  old_one->id = "old";
  bool old_told = false;
  REQUIRE_FALSE(
    old_one->add_pending([&old_told](json::object a) { old_told = a.contains("error"); }).empty());
  small.insert(old_one);
  auto new_one = std::make_shared<session>();
  new_one->id = "new";
  small.insert(new_one);
  CHECK(small.find("old") == nullptr);
  CHECK(old_told);
  CHECK(old_one->pending_count() == 0);
}

namespace {

/// Every message a stdio client got: responses by id (`inbox`), and the
/// server's requests to it.
struct client_mail {
  inbox responses;
  std::mutex mu;
  std::vector<json::object> requests;

  void put(const std::string& text) {
    auto v = json::parse(text);
    if (v.as_object().contains("method") && v.as_object().contains("id")) {
      std::lock_guard lock{mu};
      requests.push_back(v.as_object());
      return;
    }
    responses.put(text);
  }

  size_t request_count() {
    std::lock_guard lock{mu};
    return requests.size();
  }
};

} // namespace

TEST_CASE("questions to the client leave the session when answered or when their call ends",
          "[mcp][session][bounds]") {
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
    auto a = c.ask(
      "ok", "elicitation/create",
      json::object{{"message", "Sure?"}, {"requestedSchema", json::object{{"type", "object"}}}});
    if (!a)
      return tool_result::error(cairn::render(a.error()));
    return tool_result::text("answered");
  };
  srv.add_tool(std::move(t));
  srv.attach();
  REQUIRE_FALSE((*rt)->start());
  client_mail mail;
  auto write = [&mail](std::string m) { mail.put(m); };
  auto send = [&](json::object msg) {
    msg["jsonrpc"] = "2.0";
    srv.handle_message(json::serialize(msg), write);
  };
  send({{"id", 1},
        {"method", "initialize"},
        {"params", json::object{{"protocolVersion", "2025-11-25"},
                                {"capabilities", json::object{{"elicitation", json::object{}}}},
                                {"clientInfo", json::object{{"name", "t"}, {"version", "1"}}}}}});
  REQUIRE(mail.responses.await(1));

  // Many calls, one at a time; each asks the client once. The client
  // answers every other question and cancels the other calls instead.
  const int calls = 20;
  for (int i = 0; i < calls; ++i) {
    int64_t id = 100 + i;
    send({{"id", id},
          {"method", "tools/call"},
          {"params", json::object{{"name", "confirm"}, {"arguments", json::object{}}}}});
    REQUIRE(
      cairn::test::eventually([&] { return mail.request_count() == static_cast<size_t>(i + 1); }));
    json::object question;
    {
      std::lock_guard lock{mail.mu};
      question = mail.requests.back();
    }
    CHECK(srv.stats().pending_requests == 1);
    if (i % 2 == 0) {
      send({{"id", question.at("id")},
            {"result", json::object{{"action", "accept"}, {"content", json::object{}}}}});
      auto r = mail.responses.await(id);
      REQUIRE(r);
      CHECK(r->at("result").at("content").at(0).at("text") == "answered");
    } else {
      send({{"method", "notifications/cancelled"},
            {"params", json::object{{"requestId", id}, {"reason", "changed my mind"}}}});
      // A cancelled call sends no response: wait until the front end let it go.
      REQUIRE(cairn::test::eventually([&] { return srv.stats().live_calls == 0; }));
    }
  }

  // At rest again: no question, no call, no deadline is left behind.
  REQUIRE(cairn::test::eventually([&] {
    auto st = srv.stats();
    return st.live_calls == 0 && st.pending_requests == 0;
  }));
  auto st = srv.stats();
  CHECK(st.pending_requests == 0);
  CHECK(st.waiting_updates == 0);
  CHECK(st.waiting_results == 0);
  CHECK(st.deadlines == 0);
  CHECK(st.sessions == 1);
  srv.shutdown();
  (*rt)->stop();
}

TEST_CASE("a synchronous tools/call that does not finish within call_timeout is answered and "
          "cancelled",
          "[mcp][timeout]") {
  cairn::test::temp_dir dir;
  cairn::runtime_options ro;
  ro.data_dir = dir.sub("data");
  ro.threads = 2;
  auto rt = cairn::runtime::open(ro);
  REQUIRE(rt);
  server_options so;
  so.actor_resources = false;
  so.call_timeout = std::chrono::milliseconds{200};
  server srv{**rt, so};
  std::atomic<bool> saw_cancel{false};
  tool_spec t;
  t.name = "hang";
  t.description = "Never finishes on its own";
  t.handler = [&saw_cancel](call& c) -> caf::expected<tool_result> {
    // Only cancellation ends it (a liveness bound keeps a broken build from
    // hanging the test run).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{120};
    while (!c.cancelled() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    saw_cancel.store(c.cancelled());
    return tool_result::text("finished after all");
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

  // Both revisions: a session call and a stateless (2026-07-28) one.
  send(2, "tools/call", json::object{{"name", "hang"}, {"arguments", json::object{}}});
  send(3, "tools/call",
       json::object{
         {"name", "hang"},
         {"arguments", json::object{}},
         {"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                                {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}});
  for (int64_t id : {2, 3}) {
    auto r = in.await(id);
    REQUIRE(r);
    INFO(json::serialize(*r));
    REQUIRE(r->contains("result"));
    auto& result = r->at("result").as_object();
    CHECK(result.at("isError") == true);
    CHECK(std::string{result.at("content").at(0).at("text").as_string()}.find(
            "did not finish within call_timeout (200 ms)")
          != std::string::npos);
  }

  // The calls' handlers saw the cancellation; the front end forgot them.
  REQUIRE(cairn::test::eventually([&] { return srv.stats().live_calls == 0; }));
  CHECK(saw_cancel.load());
  CHECK(srv.stats().deadlines == 0);
  srv.shutdown();
  (*rt)->stop();
}
