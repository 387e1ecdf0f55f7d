// SPDX-License-Identifier: Apache-2.0
// Plans through every way in and their slow steps, against a real `cairn
// node` (docs/orchestration.md): events streamed as SSE, `cairn plan` and
// `cairn approvals` on the command line, a workflow from config served as
// one MCP tool, the token model; `exec` steps that fail for good (a dead
// letter, redriven), that are killed by a cancel, or outlive the plan's
// deadline.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/demo_tools.hpp"
#include "http_client.hpp"
#include "node_process.hpp"
#include "plan_node.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::plans;
namespace json = boost::json;

namespace {

/// The body of a chunked HTTP/1.1 answer without its chunk framing.
std::string dechunk(const test::http_reply& r) {
  if (r.header("transfer-encoding").find("chunked") == std::string::npos)
    return r.body;
  std::string out;
  size_t pos = 0;
  while (pos < r.body.size()) {
    auto eol = r.body.find("\r\n", pos);
    if (eol == std::string::npos)
      break;
    auto size = std::stoul(r.body.substr(pos, eol - pos), nullptr, 16);
    if (size == 0)
      break;
    out += r.body.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

} // namespace

TEST_CASE("a plan's events stream as SSE from its journal while it runs, and resume", "[plan]") {
  plan_node n{big_charges};
  auto [status, body] = n.submit(delivery("o12", 70000, "west"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto a = pending_approval(n, id);
  // The stream stays open while the plan waits; the approval and the end arrive on it.
  test::http_reply live;
  std::thread reader{
    [&] { live = test::http_call(n.port, "GET", "/api/v1/plans/" + id + "/events"); }};
  auto r = n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
                  json::serialize(json::object{{"decision", "approve"},
                                               {"arguments_sha256", str(a, "arguments_sha256")}}));
  CHECK(r.status == 202);
  reader.join();
  live.body = dechunk(live);
  INFO(live.body);
  CHECK(live.status == 200);
  CHECK(live.header("content-type").find("text/event-stream") == 0);
  auto at = [&](const std::string& what) { return live.body.find(what); };
  CHECK(at("id: 1\nevent: plan.accepted/v1\ndata: {") == 0);
  CHECK(at("event: plan.approval_requested/v1") < at("event: plan.approval_decided/v1"));
  CHECK(at("event: plan.approval_decided/v1") < at("event: plan.finished/v1"));
  CHECK(at("event: plan.finished/v1") != std::string::npos);
  CHECK(at("\"state\":\"succeeded\"") != std::string::npos);
  // Last-Event-ID resumes after that event.
  auto resumed =
    test::http_call(n.port, "GET", "/api/v1/plans/" + id + "/events", {}, {"Last-Event-ID: 2"});
  resumed.body = dechunk(resumed);
  INFO(resumed.body);
  CHECK(resumed.body.rfind("id: 3\n", 0) == 0);
  CHECK(resumed.body.find("event: plan.finished/v1") != std::string::npos);
  // A plan that does not exist: 404, not an empty stream.
  CHECK(n.call("GET", "/api/v1/plans/plan%2Fnope/events").status == 404);
}

TEST_CASE("cairn plan and cairn approvals drive a plan from the command line", "[plan][cli]") {
  plan_node n{big_charges};
  auto url = "http://127.0.0.1:" + std::to_string(n.port);
  auto cli = [&](std::vector<std::string> args, int& code) {
    args.insert(args.begin(), {"--node", url});
    test::node_process p{args};
    code = p.wait();
    return p.output();
  };
  {
    std::ofstream f{n.dir.sub("plan.json")};
    f << json::serialize(delivery("o13", 1200, "north"));
  }
  int code = -1;
  auto out = cli({"plan", "submit", n.dir.sub("plan.json"), "--watch"}, code);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find(": succeeded") != std::string::npos);
  // A rejected plan: exit 1 and every problem, with its path.
  {
    std::ofstream f{n.dir.sub("bad.json")};
    f << R"({"steps": [{"id": "x", "tool": "reserve_stock", "arguments": {"qty": "two"}}]})";
  }
  out = cli({"plan", "submit", n.dir.sub("bad.json")}, code);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("plan_invalid") != std::string::npos);
  CHECK(out.find("$.steps[0].arguments.qty [x]: invalid_arguments") != std::string::npos);
  // An approval, decided from the command line: the wrong hash first.
  auto [status, body] = n.submit(delivery("o14", 99000, "north"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto a = pending_approval(n, id);
  out = cli({"approvals", "list"}, code);
  CHECK(code == 0);
  CHECK(out.find(id + "/charge") != std::string::npos);
  CHECK(out.find("pending") != std::string::npos);
  out = cli({"approvals", "show", id + "/charge"}, code);
  CHECK(out.find(str(a, "arguments_sha256")) != std::string::npos);
  out = cli({"approvals", "approve", id + "/charge", "--sha256", std::string(64, 'f')}, code);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("conflict") != std::string::npos);
  out = cli({"approvals", "approve", id + "/charge", "--sha256", str(a, "arguments_sha256"),
             "--comment", "ok by phone"},
            code);
  CHECK(code == 0);
  out = cli({"plan", "watch", id}, code);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("plan " + id + ": succeeded") != std::string::npos);
  out = cli({"plan", "show", id, "--json"}, code);
  CHECK(code == 0);
  CHECK(out.find("\"ok by phone\"") != std::string::npos);
  out = cli({"plan", "list", "--status", "succeeded"}, code);
  CHECK(out.find(id) != std::string::npos);
}

TEST_CASE("a workflow from config is one MCP tool that runs its plan", "[plan][mcp]") {
  plan_node n{"null", "error", actors::demo_workflows_json()};
  int next_id = 1;
  auto mcp = [&](const std::string& method, json::object params, const std::string& name) {
    params["_meta"] = json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                                   {"io.modelcontextprotocol/clientInfo",
                                    json::object{{"name", "plan-test"}, {"version", "1.0.0"}}},
                                   {"io.modelcontextprotocol/clientCapabilities", json::object{}}};
    json::object req{
      {"jsonrpc", "2.0"}, {"id", next_id++}, {"method", method}, {"params", std::move(params)}};
    std::vector<std::string> headers{"Content-Type: application/json",
                                     "Accept: application/json, text/event-stream",
                                     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: " + method};
    if (!name.empty())
      headers.push_back("Mcp-Name: " + name);
    auto r = test::http_call(n.port, "POST", "/mcp", json::serialize(req), headers);
    INFO(r.body);
    auto text = r.body;
    if (auto data = text.rfind("data: ");
        r.header("content-type").find("event-stream") == 0 && data != std::string::npos)
      text = text.substr(data + 6, text.find('\n', data) - data - 6);
    return n.body_of(test::http_reply{r.status, r.headers, text}).as_object();
  };
  auto list = mcp("tools/list", {}, "");
  json::object deliver;
  for (const auto& t : list.at("result").at("tools").as_array())
    if (t.at("name") == "deliver_order")
      deliver = t.as_object();
  REQUIRE(!deliver.empty());
  CHECK(deliver.at("inputSchema").at("required").as_array().size() == 5);
  auto res = mcp("tools/call",
                 json::object{{"name", "deliver_order"},
                              {"arguments", json::object{{"order_id", "w1"},
                                                         {"sku", "A-1"},
                                                         {"qty", 1},
                                                         {"amount_cents", 1500},
                                                         {"region", "south"}}}},
                 "deliver_order");
  INFO(json::serialize(res));
  auto sc = res.at("result").at("structuredContent");
  CHECK(str(sc, "state") == "succeeded");
  CHECK(n.ops("payments", "charge") == 1);
  // The plan ran with the parameters in place.
  auto p = n.plan(str(sc, "id"));
  CHECK(p.at("steps").at("dispatch").at("resolved_arguments").at("region") == "south");
  // Parameters outside the workflow's schema never reach a plan.
  auto bad =
    mcp("tools/call",
        json::object{{"name", "deliver_order"}, {"arguments", json::object{{"order_id", "w2"}}}},
        "deliver_order");
  CHECK(bad.contains("error"));
}

namespace {

/// A node whose `mcp_tools` are `tools` (exec tools for the test at hand).
struct exec_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;

  explicit exec_node(const json::array& tools, std::vector<std::string> extra = {}) {
    {
      std::ofstream cfg{dir.sub("config.json")};
      cfg << json::serialize(json::object{{"mcp_tools", tools}});
    }
    std::vector<std::string> args{
      "node",          "--data",      dir.sub("data"), "--http",   "127.0.0.1:0",
      "--no-progress", "--log-level", "error",         "--config", dir.sub("config.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
  }

  json::value get(const std::string& target) {
    auto r = test::http_call(port, "GET", target);
    INFO(target << ": " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }

  json::value wait_state(const std::string& id, const std::string& state) {
    json::value p;
    bool ok = test::eventually([&] {
      p = get("/api/v1/plans/" + id);
      return str(p, "state") == state;
    });
    INFO(json::serialize(p));
    REQUIRE(ok);
    return p;
  }
};

json::object exec_tool(const std::string& name, const std::string& script,
                       json::object extra = {}) {
  json::object t{{"name", name},
                 {"description", "a step of a plan test"},
                 {"type", "exec"},
                 {"command", json::array{"/bin/sh", "-c", script}},
                 {"input_schema", json::object{{"type", "object"}}}};
  for (auto& [k, v] : extra)
    t[k] = v;
  return t;
}

} // namespace

TEST_CASE("a compensation that fails for good is a dead letter, redriven, the plan ends "
          "compensated",
          "[plan]") {
  test::temp_dir gate_dir;
  auto gate = gate_dir.sub("gate");
  // `undo` dies by a signal (a failure to retry) until the gate exists.
  json::array tools{exec_tool("work", "/bin/cat >/dev/null; echo '{}'",
                              {{"compensation", json::object{{"tool", "undo"}}}}),
                    exec_tool("fail", "/bin/cat >/dev/null; exit 4"),
                    exec_tool("undo",
                              "/bin/cat >/dev/null; [ -e " + gate + " ] || kill -9 $$; echo '{}'",
                              {{"max_attempts", 1}})};
  exec_node n{tools};
  json::object plan{
    {"steps", json::array{json::object{{"id", "w"}, {"tool", "work"}},
                          json::object{{"id", "f"}, {"tool", "fail"}, {"after", {"w"}}}}}};
  auto r = test::http_call(n.port, "POST", "/api/v1/plans", json::serialize(plan));
  INFO(r.body);
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = str(json::parse(r.body), "id");
  auto p = n.wait_state(id, "compensation_failed");
  CHECK(str(p.at("steps").at("w"), "state") == "compensation_failed");
  // The undo's call is a dead letter, with the plan's key in its call.
  auto dl = n.get("/api/v1/dead-letters");
  INFO(json::serialize(dl));
  REQUIRE(dl.at("dead_letters").as_array().size() == 1);
  auto letter = dl.at("dead_letters").as_array()[0];
  CHECK(str(letter, "to").rfind("tool.undo/", 0) == 0);
  // Fixed outside, redriven: the undo runs again and the plan ends compensated.
  std::ofstream{gate} << "open";
  auto redrive =
    test::http_call(n.port, "POST", "/api/v1/dead-letters/" + str(letter, "id") + "/redrive");
  INFO(redrive.body);
  CHECK(redrive.status < 300);
  p = n.wait_state(id, "compensated");
  CHECK(str(p.at("steps").at("w"), "state") == "compensated");
}

TEST_CASE("cancelling a plan kills its running exec step and undoes what completed", "[plan]") {
  test::temp_dir work;
  auto pidfile = work.sub("pid");
  json::array tools{exec_tool("work", "/bin/cat >/dev/null; echo '{}'",
                              {{"compensation", json::object{{"tool", "undo"}}}}),
                    exec_tool("undo", "/bin/cat >/dev/null; echo '{}'"),
                    // Writes its pid, then waits far longer than the test.
                    exec_tool("slow",
                              "/bin/cat >/dev/null; echo $$ > " + pidfile + "; exec /bin/sleep 300",
                              {{"timeout_ms", 600000}})};
  exec_node n{tools};
  json::object plan{
    {"steps", json::array{json::object{{"id", "w"}, {"tool", "work"}},
                          json::object{{"id", "s"}, {"tool", "slow"}, {"after", {"w"}}}}}};
  auto r = test::http_call(n.port, "POST", "/api/v1/plans", json::serialize(plan));
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = str(json::parse(r.body), "id");
  int pid = 0;
  REQUIRE(test::eventually([&] {
    std::ifstream in{pidfile};
    return static_cast<bool>(in >> pid) && pid > 0;
  }));
  REQUIRE(kill(pid, 0) == 0); // the step's process runs
  auto c = test::http_call(n.port, "POST", "/api/v1/plans/" + id + "/cancel");
  INFO(c.body);
  CHECK(c.status == 202);
  auto p = n.wait_state(id, "cancelled");
  INFO(json::serialize(p));
  CHECK(str(p.at("steps").at("s"), "state") != "succeeded");
  CHECK(str(p.at("steps").at("w"), "state") == "compensated");
  // The process group of the step was killed.
  CHECK(test::eventually([&] { return kill(pid, 0) != 0; }));
}

TEST_CASE("plans follow the token model: write submits, approve decides, admin does not, MCP "
          "tokens bound the tools",
          "[plan]") {
  exec_node n{json::array{},
              {"--token", "w-secret:write", "--token", "a-secret:approve", "--token",
               "adm-secret:admin", "--policies", big_charges, "--mcp-token",
               "m-secret:submit_plan,reserve_stock"}};
  auto call = [&](const std::string& token, const std::string& method, const std::string& target,
                  const std::string& body = {}) {
    return test::http_call(n.port, method, target, body,
                           {"Content-Type: application/json", "Authorization: Bearer " + token});
  };
  auto r =
    call("w-secret", "POST", "/api/v1/plans", json::serialize(delivery("t1", 60000, "north")));
  INFO(r.body);
  REQUIRE(r.status == 202);
  auto id = str(json::parse(r.body), "id");
  CHECK(str(json::parse(r.body), "caller").rfind("token-", 0) == 0);
  json::value a;
  REQUIRE(test::eventually([&] {
    auto g = call("w-secret", "GET", "/api/v1/approvals/" + id + "%2Fcharge");
    if (g.status != 200)
      return false;
    a = json::parse(g.body);
    return str(a, "state") == "pending";
  }));
  auto decision = json::serialize(
    json::object{{"decision", "approve"}, {"arguments_sha256", str(a, "arguments_sha256")}});
  CHECK(call("w-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status == 403);
  CHECK(call("adm-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status
        == 403);
  CHECK(
    call("a-secret", "POST", "/api/v1/plans", json::serialize(delivery("t2", 1, "north"))).status
    == 403);
  CHECK(call("a-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status == 202);
  json::value p;
  REQUIRE(test::eventually([&] {
    p = json::parse(call("a-secret", "GET", "/api/v1/plans/" + id).body);
    return str(p, "state") == "succeeded";
  }));
  auto by = str(p.at("steps").at("charge").at("approval"), "decided_by");
  CHECK(by.rfind("token-", 0) == 0);
  CHECK(by != str(p, "caller")); // the approver's token, not the submitter's
  CHECK(by.find("a-secret") == std::string::npos);

  // Over MCP, a plan may use only the tools of its token.
  json::object req{
    {"jsonrpc", "2.0"},
    {"id", 1},
    {"method", "tools/call"},
    {"params",
     json::object{
       {"name", "submit_plan"},
       {"arguments", json::object{{"plan", delivery("t3", 100, "north")}}},
       {"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                              {"io.modelcontextprotocol/clientInfo",
                               json::object{{"name", "t"}, {"version", "1"}}},
                              {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}}}};
  auto m = test::http_call(n.port, "POST", "/mcp", json::serialize(req),
                           {"Content-Type: application/json",
                            "Accept: application/json, text/event-stream",
                            "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
                            "Mcp-Name: submit_plan", "Authorization: Bearer m-secret"});
  INFO(m.body);
  CHECK(m.body.find("out_of_scope") != std::string::npos);
  CHECK(m.body.find("charge_payment") != std::string::npos);
  CHECK(m.body.find("\"isError\":true") != std::string::npos);
}

TEST_CASE("a plan still running at its deadline stops and undoes what it did", "[plan]") {
  plan_node n{big_charges};
  // Three seconds from now, as RFC 3339.
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()
                                                + std::chrono::seconds{3});
  std::tm tm{};
  gmtime_r(&t, &tm);
  char deadline[32];
  std::strftime(deadline, sizeof deadline, "%Y-%m-%dT%H:%M:%SZ", &tm);
  auto plan = delivery("o15", 80000, "north");
  plan.as_object()["deadline"] = deadline;
  auto [status, body] = n.submit(plan);
  INFO(json::serialize(body));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  // Nobody approves the charge: the deadline ends the plan.
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "compensated");
  CHECK(str(p, "cause") == "the plan's deadline passed");
  CHECK(n.step_state(p, "charge") == "skipped");
  CHECK(n.step_state(p, "reserve") == "compensated");
  CHECK(n.ops("stock", "release") == 1);
}
