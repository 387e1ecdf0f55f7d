// SPDX-License-Identifier: Apache-2.0
// Plans survive SIGKILL (docs/orchestration.md, "Execution"): 200 plans of 5
// steps each — three internal (the demo's ledgers) and two external (`exec`
// tools that log the idempotency key they were called with) — while the node
// is killed 20 times — 10 plans submitted, then a kill once the external log
// has grown by a seeded random number of lines (kills follow observed
// progress, not the clock) — and restarted on the same data. At the end every plan succeeded, every
// internal effect happened once, and every external call of a step carried
// the step's key `<plan id>/<step id>`, whatever the number of attempts.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

/// Kills every process whose command line mentions `text` (a tool process a
/// SIGKILLed node left behind; nothing of a test may outlive it).
void kill_processes_mentioning(const std::string& text) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it{"/proc", ec}, end; !ec && it != end;
       it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    std::ifstream in{it->path() / "cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>{in}, {}};
    if (cmdline.find(text) != std::string::npos)
      ::kill(static_cast<pid_t>(std::stol(name)), SIGKILL);
  }
}

/// Runs `kill_processes_mentioning(text)` when the test ends, failed or not.
struct reap_on_exit {
  std::string text;
  ~reap_on_exit() { kill_processes_mentioning(text); }
};

size_t lines_in(const std::string& path) {
  std::ifstream in{path};
  size_t n = 0;
  std::string line;
  while (std::getline(in, line))
    ++n;
  return n;
}

json::value parse(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  INFO("not JSON: '" << text << "'");
  REQUIRE(!ec);
  return v;
}

} // namespace

TEST_CASE("200 plans survive 20 SIGKILLs: every step once inside, one key outside",
          "[plan][crash]") {
  test::temp_dir dir;
  auto log = dir.sub("external.log");
  // Logs "KEY ARGUMENTS" and answers; the arguments name the plan's order and the step.
  auto ext = [&](const char* name) {
    return json::object{
      {"name", name},
      {"description", "An external system that records the idempotency key of each call"},
      {"type", "exec"},
      {"command", json::array{"/bin/sh", "-c",
                              "in=$(/bin/cat); echo \"$CAIRN_IDEMPOTENCY_KEY $in\" >> " + log
                                + "; echo '{\"ok\":true}'"}},
      {"input_schema",
       json::object{{"type", "object"},
                    {"properties", json::object{{"order", json::object{{"type", "string"}}}}}}},
      {"max_attempts", 10}};
  };
  {
    std::ofstream cfg{dir.sub("config.json")};
    cfg << json::serialize(json::object{{"mcp_tools", json::array{ext("ext_a"), ext("ext_b")}}});
  }
  std::vector<std::string> args{
    "node",          "--data",      dir.sub("data"), "--http",   "127.0.0.1:0",
    "--no-progress", "--log-level", "error",         "--config", dir.sub("config.json")};
  auto proc = std::make_unique<test::node_process>(args);
  REQUIRE(proc->wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(proc->output());

  constexpr int plans = 200;
  auto plan_of = [](int i) {
    auto order = "c" + std::to_string(i);
    auto step = [](const char* id, const char* tool, json::object a, const char* after) {
      json::object s{{"id", id}, {"tool", tool}, {"arguments", std::move(a)}};
      if (after)
        s["after"] = json::array{after};
      return s;
    };
    return json::object{
      {"idempotency_key", order},
      {"steps",
       json::array{
         step("reserve", "reserve_stock", {{"order_id", order}, {"sku", "S"}, {"qty", 1}}, nullptr),
         step("ext_a", "ext_a", {{"order", order}}, "reserve"),
         step(
           "charge", "charge_payment",
           {{"order_id", order},
            {"amount_cents", 100 + i},
            {"reservation_id", json::object{{"$from", "reserve"}, {"pointer", "/reservation_id"}}}},
           "ext_a"),
         step("ext_b", "ext_b", {{"order", order}}, "charge"),
         step("notify", "notify_customer", {{"order_id", order}, {"message", "done"}}, "ext_b")}}};
  };
  std::map<std::string, std::string> plan_ids; // order -> plan id
  auto submit = [&](int i) {
    auto r = test::http_call(port, "POST", "/api/v1/plans", json::serialize(plan_of(i)));
    INFO("plan " << i << " answered " << r.status << " " << r.headers << r.body);
    REQUIRE((r.status == 201 || r.status == 202));
    plan_ids["c" + std::to_string(i)] = std::string{parse(r.body).at("id").as_string()};
  };

  // 20 rounds: submit 10 plans, wait until the external log has grown by
  // 3..10 lines (seeded), SIGKILL, restart. Each kill lands while the new
  // plans are in flight; earlier ones may still be finishing too.
  std::mt19937 rng{20261201};
  int kills = 0;
  for (int next = 0; kills < 20; ++kills) {
    auto before = lines_in(log);
    for (int j = 0; j < plans / 20; ++j)
      submit(next++);
    auto grow = std::uniform_int_distribution<size_t>{3, 10}(rng);
    bool grew =
      test::eventually([&] { return lines_in(log) >= before + grow; }, std::chrono::seconds{120});
    INFO("kill " << kills << ": log at " << lines_in(log) << " lines, waiting for "
                 << before + grow);
    REQUIRE(grew);
    proc->signal(SIGKILL);
    proc->wait();
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
  }
  CHECK(kills == 20);

  // Every plan ends, and succeeds.
  for (const auto& [order, id] : plan_ids) {
    json::value p;
    bool done = test::eventually(
      [&] {
        auto r = test::http_call(port, "GET", "/api/v1/plans/" + id);
        if (r.status != 200)
          return false;
        p = parse(r.body);
        auto s = std::string{p.at("state").as_string()};
        return s != "running" && s != "submitted" && s != "compensating";
      },
      std::chrono::seconds{300});
    INFO(order << " " << id << ": " << json::serialize(p));
    REQUIRE(done);
    CHECK(p.at("state") == "succeeded");
  }

  // The list, built after the last restart from storage and the plans' own
  // reports, holds every plan once, newest first.
  auto list = test::http_call(port, "GET", "/api/v1/plans?status=succeeded&limit=1000");
  REQUIRE(list.status == 200);
  auto listed = parse(list.body).at("plans").as_array();
  CHECK(listed.size() == plans);
  std::set<std::string> listed_ids;
  int64_t previous = std::numeric_limits<int64_t>::max();
  for (const auto& p : listed) {
    listed_ids.insert(std::string{p.at("id").as_string()});
    auto submitted = p.at("submitted_ms").as_int64();
    CHECK(submitted <= previous);
    previous = submitted;
  }
  CHECK(listed_ids.size() == plans);

  // Inside: each effect once (the ledgers count any second entry with a key).
  auto ledger = [&](const std::string& domain) {
    auto r = test::http_call(port, "GET", "/api/v1/actors/ledger%2F" + domain);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return parse(r.body).at("state").as_object();
  };
  for (auto [domain, op] : std::vector<std::pair<std::string, std::string>>{
         {"stock", "reserve"}, {"payments", "charge"}, {"notify", "notify"}}) {
    auto l = ledger(domain);
    INFO(domain << ": " << json::serialize(l));
    CHECK(l.at("ops").at(op).as_int64() == plans);
    CHECK(l.at("duplicates").as_int64() == 0);
  }

  // Outside: every call of a step carried that step's key, and every
  // external step was called (at least once; a kill may repeat a call). A
  // child whose node was killed while writing its stdin saw its input cut
  // short: its line still names the key it was given.
  std::map<std::string, std::string> order_of_plan;
  for (const auto& [order, id] : plan_ids)
    order_of_plan[id] = order;
  std::map<std::string, size_t> calls_of; // key -> calls
  std::ifstream in{log};
  std::string line;
  size_t calls = 0, cut_short = 0;
  while (std::getline(in, line)) {
    ++calls;
    INFO("log line: " << line);
    auto space = line.find(' ');
    REQUIRE(space != std::string::npos);
    auto key = line.substr(0, space);
    auto slash = key.rfind('/');
    REQUIRE(slash != std::string::npos);
    auto plan = key.substr(0, slash), step = key.substr(slash + 1);
    CHECK(order_of_plan.count(plan) == 1);
    CHECK((step == "ext_a" || step == "ext_b"));
    boost::system::error_code ec;
    auto a = json::parse(line.substr(space + 1), ec);
    if (ec) {
      ++cut_short;
      continue;
    }
    // The call's arguments are those of the plan the key names.
    CHECK(a.at("order") == json::value(order_of_plan[plan]));
    ++calls_of[key];
  }
  CHECK(calls_of.size() == 2u * plans);
  // Printed for the record: how many external calls a kill repeated.
  WARN("external calls: " << calls << " (" << cut_short << " cut short by a kill) for " << 2 * plans
                          << " external steps, " << kills << " kills");
}

TEST_CASE("a SIGKILL in the middle of compensating: each undo runs to its end once, in reverse "
          "order",
          "[plan][crash]") {
  test::temp_dir dir;
  reap_on_exit reap{dir.path()}; // declared after dir: runs before it is removed
  auto log = dir.sub("undo.log");
  auto gate = dir.sub("gate");
  // `do_x` succeeds; `fail` fails (a tool error); `undo_x` logs its key and
  // then waits for the gate file, so the node can be killed while it runs.
  auto tool = [&](const std::string& name, const std::string& script, json::object extra = {}) {
    json::object t{{"name", name},
                   {"description", "a step of the compensation crash test"},
                   {"type", "exec"},
                   {"command", json::array{"/bin/sh", "-c", script}},
                   {"input_schema", json::object{{"type", "object"}}},
                   {"max_attempts", 10}};
    for (auto& [k, v] : extra)
      t[k] = v;
    return t;
  };
  // The wait is bounded (30 s), so even an undo the reaper misses ends.
  auto undo_script = "/bin/cat >/dev/null; echo \"$CAIRN_IDEMPOTENCY_KEY\" >> " + log
                     + "; i=0; while [ ! -e " + gate
                     + " ] && [ $i -lt 600 ]; do /bin/sleep 0.05; i=$((i+1)); done; echo '{}'";
  json::array tools{
    tool("do_a", "/bin/cat >/dev/null; echo '{\"id\":\"a1\"}'",
         {{"compensation",
           json::object{{"tool", "undo_a"},
                        {"arguments", json::object{{"id", json::object{{"$from", "result"},
                                                                       {"pointer", "/id"}}}}}}}}),
    tool("do_b", "/bin/cat >/dev/null; echo '{\"id\":\"b1\"}'",
         {{"compensation", json::object{{"tool", "undo_b"}}}}),
    tool("fail", "/bin/cat >/dev/null; echo 'no' >&2; exit 3"), tool("undo_a", undo_script),
    tool("undo_b", undo_script)};
  {
    std::ofstream cfg{dir.sub("config.json")};
    cfg << json::serialize(json::object{{"mcp_tools", tools}});
  }
  std::vector<std::string> args{
    "node",          "--data",      dir.sub("data"), "--http",   "127.0.0.1:0",
    "--no-progress", "--log-level", "error",         "--config", dir.sub("config.json")};
  auto proc = std::make_unique<test::node_process>(args);
  REQUIRE(proc->wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(proc->output());
  json::object plan{
    {"steps", json::array{json::object{{"id", "a"}, {"tool", "do_a"}},
                          json::object{{"id", "b"}, {"tool", "do_b"}, {"after", {"a"}}},
                          json::object{{"id", "c"}, {"tool", "fail"}, {"after", {"b"}}}}}};
  auto r = test::http_call(port, "POST", "/api/v1/plans", json::serialize(plan));
  INFO(r.body);
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = std::string{parse(r.body).at("id").as_string()};

  // The first undo (b's) is running: kill the node now, restart it.
  REQUIRE(test::eventually([&] { return lines_in(log) >= 1; }));
  proc->signal(SIGKILL);
  proc->wait();
  proc = std::make_unique<test::node_process>(args);
  REQUIRE(proc->wait_for_output("cairn node ready"));
  port = test::port_from_banner(proc->output());
  std::ofstream{gate} << "open";

  json::value p;
  REQUIRE(test::eventually([&] {
    auto g = test::http_call(port, "GET", "/api/v1/plans/" + id);
    if (g.status != 200)
      return false;
    p = parse(g.body);
    return p.at("state") == "compensated" || p.at("state") == "compensation_failed";
  }));
  INFO(json::serialize(p));
  CHECK(p.at("state") == "compensated");
  // Inside: one start and one end of each compensation, b's before a's.
  auto j = test::http_call(port, "GET", "/api/v1/actors/" + id + "/journal?limit=1000");
  REQUIRE(j.status == 200);
  std::vector<std::string> undo;
  auto journal = parse(j.body);
  for (const auto& e : journal.at("events").as_array()) {
    auto type = std::string{e.at("type").as_string()};
    if (type.find("compensation") != std::string::npos)
      undo.push_back(type.substr(type.find('_') + 1) + " "
                     + std::string{e.at("payload").at("step").as_string()});
  }
  CHECK(
    undo
    == std::vector<std::string>{"started/v1 b", "finished/v1 b", "started/v1 a", "finished/v1 a"});
  // The undo of a got the result of a.
  CHECK(p.at("steps").at("a").at("compensation_call").at("arguments").at("id") == "a1");
  // Outside: every call of an undo carried its key, b's calls all before a's.
  std::ifstream in{log};
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);)
    keys.push_back(line);
  INFO("undo calls: " << keys.size());
  REQUIRE(keys.size() >= 2);
  auto first_a = std::find(keys.begin(), keys.end(), id + "/a/compensate");
  REQUIRE(first_a != keys.end());
  for (auto it = keys.begin(); it != keys.end(); ++it)
    CHECK(*it == (it < first_a ? id + "/b/compensate" : id + "/a/compensate"));
}
