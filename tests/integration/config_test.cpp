// SPDX-License-Identifier: Apache-2.0
// Node configuration: a JSON file, CAIRN_* variables and flags, in that order
// of precedence (flag > env > file > default); invalid values are refused
// with the setting's name; logs as JSON lines.
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;

namespace {

std::string run_to_end(std::vector<std::string> args, int& code) {
  test::node_process p{std::move(args)};
  code = p.wait(std::chrono::seconds{60});
  return p.output();
}

/// Sets an environment variable for the life of the guard.
struct env_guard {
  std::string name;
  env_guard(std::string n, const std::string& value) : name(std::move(n)) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~env_guard() { unsetenv(name.c_str()); }
};

} // namespace

TEST_CASE("settings come from flag, then CAIRN_* variable, then config file, then default",
          "[config]") {
  test::temp_dir dir;
  auto file = dir.sub("node.json");
  std::ofstream{file} << R"({"max_pending": 5000, "batch": 64, "durability": "fsync",
                             "max_wait_us": 100})";
  env_guard env_batch{"CAIRN_BATCH", "128"};
  env_guard env_wait{"CAIRN_MAX_WAIT_US", "200"};
  int code = -1;
  auto out = run_to_end({"node", "--config", file, "--max-wait-us", "300", "--print-config"}, code);
  REQUIRE(code == 0);
  CHECK(out.find("\"max_pending\":5000") != std::string::npos); // file over default
  CHECK(out.find("\"batch\":128") != std::string::npos);        // env over file
  CHECK(out.find("\"max_wait_us\":300") != std::string::npos);  // flag over env and file
  CHECK(out.find("\"durability\":\"fsync\"") != std::string::npos);
  CHECK(out.find("\"threads\":0") != std::string::npos); // default
}

TEST_CASE("invalid settings are refused at start with the setting's name", "[config][errors]") {
  test::temp_dir dir;
  int code = -1;
  auto file = dir.sub("bad.json");
  std::ofstream{file} << R"({"durability": "sometimes"})";
  auto out = run_to_end({"node", "--config", file}, code);
  CHECK(code == 2);
  CHECK(out.find("setting 'durability' must be one of os, fsync") != std::string::npos);

  std::ofstream{file, std::ios::trunc} << R"({"max_pending": 0})";
  out = run_to_end({"node", "--config", file}, code);
  CHECK(code == 2);
  CHECK(out.find("setting 'max_pending' must be an integer from 1") != std::string::npos);

  std::ofstream{file, std::ios::trunc} << R"({"max_pendng": 10})";
  out = run_to_end({"node", "--config", file}, code);
  CHECK(code == 2);
  CHECK(out.find("unknown setting 'max_pendng'") != std::string::npos);

  std::ofstream{file, std::ios::trunc} << R"({"batch": )";
  out = run_to_end({"node", "--config", file}, code);
  CHECK(code == 2);
  CHECK(out.find("is not valid JSON at byte") != std::string::npos);

  out = run_to_end({"node", "--config", dir.sub("missing.json")}, code);
  CHECK(code == 2);
  CHECK(out.find("cannot read config file") != std::string::npos);

  {
    env_guard env{"CAIRN_DURABILITY", "maybe"};
    out = run_to_end({"node", "--print-config"}, code);
    CHECK(code == 2);
    CHECK(out.find("--durability") != std::string::npos);
  }
  out = run_to_end({"node", "--http", "nonsense", "--data", dir.sub("d")}, code);
  CHECK(code == 2);
  CHECK(out.find("--http 'nonsense' is not HOST:PORT") != std::string::npos);
}

TEST_CASE("JSON log format writes one object a line, with trace and actor ids", "[config][logs]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--demo",
                           "--flaky-rate", "1.0", "--no-progress", "--log-format", "json"}};
  REQUIRE(node.wait_for_output("\"actor\":\"payment/"));
  auto out = node.output();
  auto line_start = out.rfind('\n', out.find("\"actor\":\"payment/")) + 1;
  auto line = out.substr(line_start, out.find('\n', line_start) - line_start);
  CHECK(line.front() == '{');
  CHECK(line.back() == '}');
  CHECK(line.find("\"level\":\"warning\"") != std::string::npos);
  CHECK(line.find("\"trace_id\":\"") != std::string::npos);
  CHECK(line.find("dead-lettered after 4 attempts") != std::string::npos);
}
