// SPDX-License-Identifier: Apache-2.0
// Node configuration: a JSON file, CAIRN_* variables and flags, in that order
// of precedence (flag > env > file > default); invalid values are refused
// with the setting's name; logs as JSON lines.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

std::string run_to_end(std::vector<std::string> args, int& code,
                       std::string binary = test::cairn_binary()) {
  test::node_process p{std::move(args), std::move(binary)};
  code = p.wait(std::chrono::seconds{60});
  return p.output();
}

/// Sets an environment variable for the life of the guard (or, with no
/// value, unsets it), then puts back what was there.
struct env_guard {
  std::string name;
  std::optional<std::string> before;
  env_guard(std::string n, std::optional<std::string> value) : name(std::move(n)) {
    if (const char* old = std::getenv(name.c_str()))
      before = old;
    if (value)
      setenv(name.c_str(), value->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
  ~env_guard() {
    if (before)
      setenv(name.c_str(), before->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
  env_guard(const env_guard&) = delete;
  env_guard& operator=(const env_guard&) = delete;
};

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string readme() {
  auto text = read_text(std::string{CAIRN_SOURCE_DIR} + "/README.md");
  REQUIRE_FALSE(text.empty());
  return text;
}

/// The `code` spans of `cell`, in order.
std::vector<std::string> code_spans(const std::string& cell) {
  std::vector<std::string> out;
  for (auto open = cell.find('`'); open != std::string::npos; open = cell.find('`', open + 1)) {
    auto close = cell.find('`', open + 1);
    if (close == std::string::npos)
      break;
    out.push_back(cell.substr(open + 1, close - open - 1));
    open = close;
  }
  return out;
}

/// The README's settings table: every setting (file key) and its default as
/// the README writes it. A row may name several settings and their defaults.
std::vector<std::pair<std::string, std::string>> readme_settings() {
  auto text = readme();
  auto start = text.find("| setting (file key) |");
  REQUIRE(start != std::string::npos);
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream rows{text.substr(start)};
  std::string row;
  std::getline(rows, row); // the header
  std::getline(rows, row); // |---|
  while (std::getline(rows, row) && row.rfind("|", 0) == 0) {
    auto a = row.find('|', 1), b = row.find('|', a + 1);
    REQUIRE(b != std::string::npos);
    auto names = code_spans(row.substr(1, a - 1));
    auto defaults = code_spans(row.substr(a + 1, b - a - 1));
    INFO(row);
    REQUIRE(!names.empty());
    REQUIRE(names.size() == defaults.size());
    for (size_t i = 0; i < names.size(); ++i)
      out.emplace_back(names[i], defaults[i]);
  }
  return out;
}

/// The flag and variable the README's rule gives a setting.
std::string flag_for(const std::string& name) {
  if (name == "tokens")
    return "--token";
  if (name == "mcp_tokens")
    return "--mcp-token";
  auto flag = "--" + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string variable_for(const std::string& name) {
  auto v = "CAIRN_" + name;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v;
}

/// Three values of one setting, each different from the one it overrides
/// (file from the default, environment from file, flag from environment),
/// and what `--print-config` shows for each (JSON).
struct sample {
  std::string file;                ///< JSON, in the config file
  std::string env;                 ///< text of CAIRN_<NAME>
  std::optional<std::string> flag; ///< the flag's value (none: a bare switch)
  std::string shown_file, shown_env, shown_flag;
};

std::string tool_json(const std::string& name) {
  return R"([{"name":")" + name
         + R"(","description":"a declared tool","type":"exec","command":["/bin/cat"]}])";
}

std::string workflow_json(const std::string& name) {
  return R"([{"name":")" + name
         + R"(","description":"a workflow","parameters":{"type":"object"},"steps":[{"id":"a","tool":"echo","arguments":{"text":"hi"}}]}])";
}

const std::map<std::string, sample>& samples() {
  static const std::map<std::string, sample> table = {
    {"data", {R"("f-data")", "e-data", "x-data", R"("f-data")", R"("e-data")", R"("x-data")"}},
    {"durability", {R"("fsync")", "os", "fsync", R"("fsync")", R"("os")", R"("fsync")"}},
    {"http",
     {R"("127.0.0.1:1001")", "localhost:1002", "127.0.0.1:1003", R"("127.0.0.1:1001")",
      R"("localhost:1002")", R"("127.0.0.1:1003")"}},
    {"http_read_timeout", {"11", "12", "13", "11", "12", "13"}},
    {"max_connections", {"100", "200", "300", "100", "200", "300"}},
    {"tokens",
     {R"(["f:read"])", "e:write e2:read", "x:admin", R"(["(redacted):read"])",
      R"(["(redacted):write","(redacted):read"])", R"(["(redacted):admin"])"}},
    {"mcp_tokens",
     {R"(["f:a*"])", "e:b* e2:c?", "x:d*", R"(["(redacted):a*"])",
      R"(["(redacted):b*","(redacted):c?"])", R"(["(redacted):d*"])"}},
    {"mcp_tools",
     {tool_json("tool_f"), tool_json("tool_e"), tool_json("tool_x"), tool_json("tool_f"),
      tool_json("tool_e"), tool_json("tool_x")}},
    {"policies",
     {R"([{"name":"f","verdict":"deny"}])", R"([{"name":"e","verdict":"deny"}])",
      R"([{"name":"x","verdict":"deny"}])", R"([{"name":"f","verdict":"deny"}])",
      R"([{"name":"e","verdict":"deny"}])", R"([{"name":"x","verdict":"deny"}])"}},
    {"workflows",
     {workflow_json("wf_f"), workflow_json("wf_e"), workflow_json("wf_x"), workflow_json("wf_f"),
      workflow_json("wf_e"), workflow_json("wf_x")}},
    {"profile",
     {R"("conformance")", "default", "conformance", R"("conformance")", R"("default")",
      R"("conformance")"}},
    {"log_level", {R"("debug")", "warn", "error", R"("debug")", R"("warn")", R"("error")"}},
    {"log_format", {R"("json")", "text", "json", R"("json")", R"("text")", R"("json")"}},
    {"max_pending", {"5000", "6000", "7000", "5000", "6000", "7000"}},
    {"batch", {"64", "128", "256", "64", "128", "256"}},
    {"max_wait_us", {"100", "200", "300", "100", "200", "300"}},
    {"stage_wait_us", {"100", "200", "300", "100", "200", "300"}},
    {"wal_spare_mb", {"16", "32", "48", "16", "32", "48"}},
    {"commit_cpu", {R"("off")", "1", "0", R"("off")", R"("1")", R"("0")"}},
    {"threads", {"3", "5", "7", "3", "5", "7"}},
    {"scheduler",
     {R"("stealing")", "sharing", "stealing", R"("stealing")", R"("sharing")", R"("stealing")"}},
    {"max_active", {"10", "20", "30", "10", "20", "30"}},
    {"activation_window", {"64", "128", "256", "64", "128", "256"}},
    {"demo", {"true", "false", std::nullopt, "true", "false", "true"}},
    {"demo_rate", {"2.5", "3.5", "4.5", "2.5", "3.5", "4.5"}},
    {"flaky_rate", {"0.25", "0.5", "0.75", "0.25", "0.5", "0.75"}},
    {"cluster_etcd",
     {R"("http://127.0.0.1:1")", "http://127.0.0.1:2", "http://127.0.0.1:3",
      R"("http://127.0.0.1:1")", R"("http://127.0.0.1:2")", R"("http://127.0.0.1:3")"}},
    {"node_id", {R"("nf")", "ne", "nx", R"("nf")", R"("ne")", R"("nx")"}},
    {"cluster_listen",
     {R"("127.0.0.1:1")", "127.0.0.1:2", "127.0.0.1:3", R"("127.0.0.1:1")", R"("127.0.0.1:2")",
      R"("127.0.0.1:3")"}},
    {"shards", {"16", "32", "64", "16", "32", "64"}},
    {"cluster_lease_ttl", {"7", "8", "9", "7", "8", "9"}},
    {"cluster_outbox_cap", {"10", "20", "30", "10", "20", "30"}},
    {"otlp_endpoint",
     {R"("http://127.0.0.1:1")", "http://127.0.0.1:2", "http://127.0.0.1:3",
      R"("http://127.0.0.1:1")", R"("http://127.0.0.1:2")", R"("http://127.0.0.1:3")"}},
    // Printed with the values redacted: they may hold an API key.
    {"otlp_headers",
     {R"("A=f")", "B=e", "C=x", R"x("A=(redacted)")x", R"x("B=(redacted)")x",
      R"x("C=(redacted)")x"}},
    {"otlp_batch", {"10", "20", "30", "10", "20", "30"}},
    {"otlp_queue", {"100", "200", "300", "100", "200", "300"}},
  };
  return table;
}

/// `--print-config`'s JSON; exit code 0 required.
json::object print_config(std::vector<std::string> args) {
  args.insert(args.begin(), "node");
  args.push_back("--print-config");
  int code = -1;
  auto out = run_to_end(args, code, CAIRN_TEST_NODE);
  INFO(out);
  REQUIRE(code == 0);
  boost::system::error_code ec;
  auto v = json::parse(out.substr(0, out.find('\n')), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.as_object();
}

/// A README default as JSON: its JSON reading, or else the text as a string.
json::value default_value(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(text) : v;
}

} // namespace

TEST_CASE("every setting of the README's table works from file, environment and flag, in that "
          "order of precedence",
          "[config]") {
  auto table = readme_settings();
  // Nothing in this process's environment may leak into the runs.
  std::vector<std::unique_ptr<env_guard>> clean;
  clean.push_back(std::make_unique<env_guard>("CAIRN_CONFIG", std::nullopt));
  for (const auto& [name, def] : table)
    clean.push_back(std::make_unique<env_guard>(variable_for(name), std::nullopt));

  // The README's table and the node's own list are one list: --print-config
  // shows every setting the node has, with the README's default.
  auto defaults = print_config({});
  std::vector<std::string> readme_names, node_names;
  for (const auto& [name, def] : table) {
    readme_names.push_back(name);
    INFO("setting " << name << ": README default " << def);
    REQUIRE(defaults.contains(name));
    CHECK(defaults.at(name) == default_value(def));
  }
  for (const auto& [key, value] : defaults)
    node_names.emplace_back(key);
  std::sort(readme_names.begin(), readme_names.end());
  std::sort(node_names.begin(), node_names.end());
  CHECK(readme_names == node_names);

  // Every setting, at once: the file alone, then the environment over it,
  // then flags over both (and over the file alone).
  test::temp_dir dir;
  auto file = dir.sub("node.json");
  std::string text = "{";
  std::vector<std::string> flags;
  for (const auto& [name, def] : table) {
    INFO("the test has sample values for setting " << name);
    REQUIRE(samples().count(name) == 1);
    const auto& s = samples().at(name);
    text += (text.size() > 1 ? ",\"" : "\"") + name + "\":" + s.file;
    flags.push_back(flag_for(name));
    if (s.flag)
      flags.push_back(*s.flag);
  }
  std::ofstream{file} << text << "}";

  auto check_all = [&](const json::object& shown, std::string sample::*field, const char* from) {
    for (const auto& [name, def] : table) {
      INFO("setting " << name << " from " << from);
      REQUIRE(shown.contains(name));
      CHECK(shown.at(name) == json::parse(samples().at(name).*field));
    }
  };
  check_all(print_config({"--config", file}), &sample::shown_file, "the file");
  auto with_flags = flags;
  with_flags.insert(with_flags.begin(), {"--config", file});
  check_all(print_config(with_flags), &sample::shown_flag, "flags over the file");
  {
    std::vector<std::unique_ptr<env_guard>> env;
    for (const auto& [name, def] : table)
      env.push_back(std::make_unique<env_guard>(variable_for(name), samples().at(name).env));
    check_all(print_config({"--config", file}), &sample::shown_env,
              "the environment over the file");
    check_all(print_config(with_flags), &sample::shown_flag,
              "flags over the environment and the file");
  }
}

TEST_CASE("the README's node.json example passes the checks of start and starts a node that "
          "guards the API and /mcp",
          "[config][readme]") {
  auto text = readme();
  auto intro = text.find("Example `node.json`:");
  REQUIRE(intro != std::string::npos);
  auto open = text.find("```json\n", intro);
  REQUIRE(open != std::string::npos);
  open += 8;
  auto close = text.find("```", open);
  REQUIRE(close != std::string::npos);
  test::temp_dir dir;
  auto file = dir.sub("node.json");
  std::ofstream{file} << text.substr(open, close - open);

  // Exactly as written: --print-config runs start's checks, and they pass.
  int code = -1;
  auto out = run_to_end({"node", "--config", file, "--print-config"}, code);
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("\"http\":\"0.0.0.0:7070\"") != std::string::npos);
  CHECK(out.find("\"tokens\":[\"(redacted):read,write,admin\",\"(redacted):read\"]")
        != std::string::npos);
  CHECK(out.find("ops-secret") == std::string::npos); // secrets are never printed

  // Started (on a free port and a temporary directory, still on a public
  // address): neither the API nor /mcp answers without a token.
  test::node_process node{
    {"node", "--config", file, "--data", dir.sub("data"), "--http", "0.0.0.0:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready: http://0.0.0.0:"));
  auto banner = node.output();
  auto port =
    static_cast<uint16_t>(std::stoul(banner.substr(banner.find("ready: http://0.0.0.0:") + 22)));
  REQUIRE(port != 0);
  CHECK(test::http_call(port, "GET", "/api/v1/status").status == 401);
  CHECK(
    test::http_call(port, "GET", "/api/v1/status", "", {"Authorization: Bearer ops-secret"}).status
    == 200);
  const std::string initialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
  const std::vector<std::string> mcp_headers = {"Content-Type: application/json",
                                                "Accept: application/json, text/event-stream"};
  CHECK(test::http_call(port, "POST", "/mcp", initialize, mcp_headers).status == 401);
  auto with_token = mcp_headers;
  with_token.push_back("Authorization: Bearer ops-secret");
  CHECK(test::http_call(port, "POST", "/mcp", initialize, with_token).status == 200);
}

TEST_CASE("cairn node --print-config refuses a bad setting as start does, exit 2 and its name",
          "[config][errors]") {
  test::temp_dir dir;
  auto bad_file = dir.sub("bad.json");
  std::ofstream{bad_file} << R"({"durability": "sometimes"})";
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<bad> cases = {
    {{"--http", "nonsense"}, "--http 'nonsense' is not HOST:PORT"},
    {{"--http", "0.0.0.0:7070"}, "--http 0.0.0.0:7070 is not a loopback address"},
    {{"--log-level", "loud"},
     "setting 'log_level' (--log-level or CAIRN_LOG_LEVEL) must be one of trace, debug"},
    {{"--token", "no-scopes"}, "no-scopes"},
    {{"--mcp-tools", "[1"}, "setting 'mcp_tools' (--mcp-tools or CAIRN_MCP_TOOLS) is not valid"},
    {{"--mcp-tools", R"([{"name": "x"}])"}, "x"},
    {{"--config", bad_file}, "setting 'durability' must be one of os, fsync"},
    // A flag meets the file's rules.
    {{"--threads", "5000"},
     "setting 'threads' (--threads or CAIRN_THREADS) must be an integer "
     "from 0 to 1024"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.insert(args.begin(), {"node", "--data", dir.sub("data"), "--no-progress"});
    int start_code = -1;
    auto at_start = run_to_end(args, start_code);
    args.push_back("--print-config");
    int print_code = -1;
    auto printed = run_to_end(args, print_code);
    INFO("cairn " << args.back() << " with " << c.args.front() << " " << c.args.back() << ":\n"
                  << printed);
    CHECK(print_code == 2);
    CHECK(start_code == 2);
    CHECK(printed.find(c.says) != std::string::npos);
    CHECK(printed == at_start);                                 // the same message
    CHECK(printed.find("\"durability\"") == std::string::npos); // no settings printed
  }
}

TEST_CASE("settings come from flag, then CAIRN_* variable, then config file, then default",
          "[config]") {
  test::temp_dir dir;
  auto file = dir.sub("node.json");
  std::ofstream{file} << R"({"max_pending": 5000, "batch": 64, "durability": "fsync",
                             "max_wait_us": 100})";
  env_guard env_batch{"CAIRN_BATCH", std::string{"128"}};
  env_guard env_wait{"CAIRN_MAX_WAIT_US", std::string{"200"}};
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
    env_guard env{"CAIRN_DURABILITY", std::string{"maybe"}};
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
  CHECK(line.find("\"span_id\":\"") != std::string::npos);
  CHECK(line.find("dead-lettered after 4 attempts") != std::string::npos);
  // Fields, not a prefix parsed back out of the message.
  auto v = boost::json::parse(line).as_object();
  CHECK(std::string{v.at("msg").as_string()}.rfind("message ", 0) == 0);
  CHECK(v.at("trace_id").as_string().size() == 32);
  CHECK(v.at("span_id").as_string().size() == 16);
}

TEST_CASE("text logs end a line about a message with its trace, span and actor", "[config][logs]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--demo",
                           "--flaky-rate", "1.0", "--no-progress"}};
  REQUIRE(node.wait_for_output("dead-lettered after 4 attempts"));
  auto out = node.output();
  auto at = out.find("dead-lettered after 4 attempts");
  auto line_start = out.rfind('\n', at) + 1;
  auto line = out.substr(line_start, out.find('\n', at) - line_start);
  INFO(line);
  std::smatch m;
  CHECK(std::regex_search(
    line, m,
    std::regex{"attempts: .* trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16} actor=payment/\\S+$"}));
}
