// SPDX-License-Identifier: Apache-2.0
// Tool schemas from configuration, at start: a schema the validator cannot
// honour exactly stops `cairn node` and `cairn mcp stdio` with exit 2 naming
// the tool and the schema path; schemas that reference themselves start
// (no crash) and answer each call; \p{L} patterns work.
#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "node_process.hpp"
#include "stdio_child.hpp"
#include "temp_dir.hpp"

namespace {

namespace json = boost::json;
using namespace cairn;

/// Writes a config declaring `/bin/cat` exec tools, one per (name, input_schema).
std::string write_config(const test::temp_dir& dir,
                         const std::vector<std::pair<std::string, std::string>>& tools,
                         const std::string& file = "node.json") {
  json::array decls;
  for (const auto& [name, schema] : tools)
    decls.push_back(json::object{{"name", name},
                                 {"description", "echoes its arguments"},
                                 {"type", "exec"},
                                 {"command", json::array{"/bin/cat"}},
                                 {"input_schema", json::parse(schema)}});
  auto path = dir.sub(file);
  std::ofstream out{path};
  out << json::serialize(json::object{{"mcp_tools", std::move(decls)}});
  return path;
}

json::object call_request(int64_t id, const std::string& tool, const std::string& args) {
  return json::object{
    {"jsonrpc", "2.0"},
    {"id", id},
    {"method", "tools/call"},
    {"params",
     json::object{
       {"name", tool},
       {"arguments", json::parse(args)},
       {"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                              {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}}}};
}

/// A 2026-07-28 stateless tools/call over HTTP; the JSON-RPC response.
json::value call_http(uint16_t port, const std::string& tool, const std::string& args) {
  static int64_t id = 1;
  auto r = test::http_call(
    port, "POST", "/mcp", json::serialize(call_request(id++, tool, args)),
    {"Content-Type: application/json", "Accept: application/json, text/event-stream",
     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: " + tool});
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  INFO("HTTP " << r.status << ": " << r.body);
  REQUIRE(!ec);
  return v;
}

/// The JSON-RPC error code of a response, or 0 for a result.
int64_t error_code(const json::value& response) {
  auto e = response.as_object().if_contains("error");
  return e ? e->at("code").as_int64() : 0;
}

std::string error_message(const json::value& response) {
  auto e = response.as_object().if_contains("error");
  return e ? std::string{e->at("message").as_string()} : std::string{};
}

bool succeeded(const json::value& response) {
  auto r = response.as_object().if_contains("result");
  if (r == nullptr)
    return false;
  auto e = r->as_object().if_contains("isError");
  return e == nullptr || *e == json::value(false);
}

struct refusal {
  std::string what;
  std::string schema;
  std::string path; ///< the schema path stderr must name
};

const std::vector<refusal>& refusals() {
  static const std::vector<refusal> r{
    {"a $ref to a URI nothing resolves",
     R"({"type":"object","properties":{"x":{"$ref":"https://example.com/nowhere.json"}}})",
     "#/properties/x/$ref"},
    {"a lookbehind in a pattern",
     R"({"type":"object","properties":{"x":{"type":"string","pattern":"(?<=a)b"}}})",
     "#/properties/x/pattern"},
    {"an unknown $schema dialect",
     R"({"$schema":"https://json-schema.org/draft/2019-09/schema","type":"object"})", "#/$schema"},
    {"a negative minLength",
     R"({"type":"object","properties":{"x":{"type":"string","minLength":-1}}})",
     "#/properties/x/minLength"},
  };
  return r;
}

/// Runs `args` on a config with one good tool and then `bad`; expects exit 2
/// and a stderr line naming `bad` and `path`.
void expect_refused(std::vector<std::string> args, const std::string& path) {
  test::stdio_child child{test::cairn_binary(), std::move(args)};
  child.close_stdin();
  auto code = child.wait();
  auto err = child.error_output();
  INFO("stderr: " << err);
  CHECK(code == 2);
  CHECK(err.find("tool bad: input_schema " + path) != std::string::npos);
}

constexpr const char* self_ref = R"({"type":"object","$ref":"#"})";
constexpr const char* defs_cycle =
  R"({"type":"object","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},)"
  R"("$ref":"#/$defs/a"})";
constexpr const char* plain = R"({"type":"object","properties":{"text":{"type":"string"}}})";

/// The answer to a call on a schema that refers to itself without
/// consuming the instance: the depth bound turns it into -32602.
void check_cycle_answer(const json::value& response) {
  INFO(json::serialize(response));
  CHECK(error_code(response) == -32602);
  CHECK(error_message(response).find("evaluation depth exceeded") != std::string::npos);
}

} // namespace

TEST_CASE("config tools whose input schema cannot be honoured stop cairn node with exit 2 naming "
          "the tool and the schema path",
          "[schema][mcp][config][integration]") {
  for (const auto& r : refusals()) {
    INFO(r.what << ": " << r.schema);
    test::temp_dir dir;
    auto config = write_config(dir, {{"good", plain}, {"bad", r.schema}});
    expect_refused({"node", "--data", dir.sub("data"), "--config", config, "--http", "127.0.0.1:0",
                    "--no-progress"},
                   r.path);
  }
}

TEST_CASE("cairn mcp stdio refuses a config tool with an unresolvable $ref with exit 2",
          "[schema][mcp][stdio][config][integration]") {
  const auto& r = refusals().front();
  test::temp_dir dir;
  auto config = write_config(dir, {{"good", plain}, {"bad", r.schema}});
  expect_refused({"mcp", "stdio", "--config", config, "--data", dir.sub("data")}, r.path);
}

TEST_CASE("a config tool's pattern with the Unicode letter class p{L} is accepted and matches "
          "letters only",
          "[schema][mcp][regex][integration]") {
  test::temp_dir dir;
  auto config = write_config(
    dir, {{"letters",
           R"({"type":"object","properties":{"word":{"type":"string","pattern":"^\\p{L}+$"}},)"
           R"("required":["word"]})"}});
  test::node_process node{{"node", "--data", dir.sub("data"), "--config", config, "--http",
                           "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());

  auto ok = call_http(port, "letters", R"({"word":"héllo"})");
  INFO(json::serialize(ok));
  CHECK(succeeded(ok));
  CHECK(json::serialize(ok).find("héllo") != std::string::npos); // echoed by cat
  auto digit = call_http(port, "letters", R"({"word":"h3llo"})");
  INFO(json::serialize(digit));
  CHECK(error_code(digit) == -32602);
  CHECK(error_message(digit).find("$.word:") != std::string::npos);
  CHECK(error_message(digit).find("(schema #/properties/word/pattern)") != std::string::npos);
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}

TEST_CASE("config tools whose schemas are $ref cycles start, answer each call and leave the node "
          "serving",
          "[schema][mcp][integration]") {
  test::temp_dir dir;
  auto config =
    write_config(dir, {{"self_ref", self_ref}, {"defs_cycle", defs_cycle}, {"plain", plain}});
  test::node_process node{{"node", "--data", dir.sub("data"), "--config", config, "--http",
                           "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());

  for (int round = 0; round < 3; ++round) {
    check_cycle_answer(call_http(port, "self_ref", R"({"a":1})"));
    check_cycle_answer(call_http(port, "defs_cycle", R"({})"));
  }
  auto after = call_http(port, "plain", R"({"text":"still serving"})");
  INFO(json::serialize(after));
  CHECK(succeeded(after));
  CHECK(node.running());
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}

TEST_CASE("cairn mcp stdio starts with $ref-cycle schemas, answers each call and exits 0 when "
          "stdin closes",
          "[schema][mcp][stdio][integration]") {
  test::temp_dir dir;
  auto config =
    write_config(dir, {{"self_ref", self_ref}, {"defs_cycle", defs_cycle}, {"plain", plain}});
  test::stdio_child child{test::cairn_binary(),
                          {"mcp", "stdio", "--config", config, "--data", dir.sub("data")}};
  const std::vector<std::pair<std::string, std::string>> calls{
    {"self_ref", R"({"a":1})"}, {"defs_cycle", "{}"}, {"plain", R"({"text":"still serving"})"}};
  for (size_t i = 0; i < calls.size(); ++i)
    REQUIRE(child.write(
      json::serialize(call_request(static_cast<int64_t>(i), calls[i].first, calls[i].second))
      + "\n"));
  std::vector<json::value> answers(calls.size());
  for (size_t got = 0; got < calls.size(); ++got) {
    auto line = child.read_line();
    INFO("stderr: " << child.error_output());
    REQUIRE(line);
    auto msg = json::parse(*line);
    auto id = msg.at("id").as_int64();
    REQUIRE(id >= 0);
    REQUIRE(static_cast<size_t>(id) < calls.size());
    answers[static_cast<size_t>(id)] = std::move(msg);
  }
  check_cycle_answer(answers[0]);
  check_cycle_answer(answers[1]);
  INFO(json::serialize(answers[2]));
  CHECK(succeeded(answers[2]));
  child.close_stdin();
  CHECK(child.wait() == 0);
}
