// SPDX-License-Identifier: Apache-2.0
// The official JSON-Schema-Test-Suite end to end: groups of the suite become
// `exec` tools of a real node (each group's schema wrapped as the input schema
// of one argument `v`), and every test of every group is a tools/call with
// {"v": data}: a valid instance must run the tool, an invalid one must get
// JSON-RPC -32602. The library's own verdict on the same wrapped schema is
// checked alongside, so a disagreement says which side is wrong.
#include <cairn/schema/validator.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "node_process.hpp"
#include "stdio_child.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace cairn;

const fs::path suite_root{CAIRN_JSON_SCHEMA_TEST_SUITE};

json::value read_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json::parse_options opts;
  opts.max_depth = 10000;
  json::error_code ec;
  json::value v = json::parse(text.str(), ec, {}, opts);
  if (ec)
    FAIL("cannot parse " << file << ": " << ec.message());
  return v;
}

/// Keywords whose meaning depends on where the schema sits in its document
/// (base URI, resources, anchors, dialect): a group using any of them is not
/// wrapped, since the wrapper would change what it means.
bool position_dependent(const json::value& s) {
  static const std::set<std::string> keys{
    "$ref",    "$id",         "$anchor",       "$dynamicRef",     "$dynamicAnchor",
    "$schema", "$vocabulary", "$recursiveRef", "$recursiveAnchor"};
  if (s.is_object()) {
    for (const auto& [k, v] : s.as_object())
      if (keys.count(std::string{k}) || position_dependent(v))
        return true;
  } else if (s.is_array()) {
    for (const auto& v : s.as_array())
      if (position_dependent(v))
        return true;
  }
  return false;
}

struct suite_test {
  std::string description;
  json::value data;
  bool valid;
};

struct suite_group {
  std::string tool;  ///< the tool's name, g000...
  std::string where; ///< draft/file.json: group description
  std::string file;
  json::value input_schema; ///< the group's schema wrapped as {"v": schema}
  std::vector<suite_test> tests;
};

struct sample {
  std::vector<suite_group> groups;
  std::set<std::string> files;
  size_t tests = 0;
  size_t draft7_groups = 0;
};

/// The first groups of each required file of a draft whose schema can be
/// wrapped (at most `per_file`, `per_unevaluated_file` for the unevaluated*
/// files, whose groups differ most), in suite order: deterministic.
void add_draft(sample& out, const std::string& draft, size_t per_file,
               size_t per_unevaluated_file) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(suite_root / "tests" / draft))
    if (e.is_regular_file() && e.path().extension() == ".json")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  bool draft7 = draft == "draft7";
  for (const auto& path : files) {
    auto file = draft + "/" + path.filename().string();
    size_t limit =
      path.filename().string().rfind("unevaluated", 0) == 0 ? per_unevaluated_file : per_file;
    size_t taken = 0;
    json::value groups = read_json(path);
    for (const auto& gv : groups.as_array()) {
      if (taken == limit)
        break;
      const auto& g = gv.as_object();
      json::value schema = g.at("schema");
      // The 2020-12 files name their dialect at the top; the wrapper is
      // 2020-12 by default, so that $schema is dropped without changing meaning.
      if (!draft7 && schema.is_object()) {
        auto& o = schema.as_object();
        if (auto d = o.if_contains("$schema");
            d && *d == json::value("https://json-schema.org/draft/2020-12/schema"))
          o.erase("$schema");
      }
      if (position_dependent(schema))
        continue;
      suite_group sg;
      char name[16];
      std::snprintf(name, sizeof name, "g%03zu", out.groups.size());
      sg.tool = name;
      sg.file = file;
      sg.where = file + ": " + std::string{g.at("description").as_string()};
      json::object wrapped{{"type", "object"},
                           {"properties", json::object{{"v", schema}}},
                           {"required", json::array{"v"}}};
      if (draft7)
        wrapped.emplace("$schema", "http://json-schema.org/draft-07/schema#");
      sg.input_schema = std::move(wrapped);
      for (const auto& tv : g.at("tests").as_array()) {
        const auto& t = tv.as_object();
        sg.tests.push_back(
          {std::string{t.at("description").as_string()}, t.at("data"), t.at("valid").as_bool()});
      }
      out.tests += sg.tests.size();
      out.files.insert(file);
      out.draft7_groups += draft7 ? 1 : 0;
      out.groups.push_back(std::move(sg));
      ++taken;
    }
  }
}

sample take_sample(size_t per_file, size_t per_unevaluated_file, size_t draft7_per_file) {
  if (!fs::is_directory(suite_root / "tests" / "draft2020-12"))
    FAIL("the official JSON-Schema-Test-Suite is not at "
         << suite_root.string()
         << " (it was there when the build was configured); point "
            "CAIRN_JSON_SCHEMA_TEST_SUITE at a checkout and reconfigure");
  sample s;
  add_draft(s, "draft2020-12", per_file, per_unevaluated_file);
  add_draft(s, "draft7", draft7_per_file, draft7_per_file);
  return s;
}

/// A node config with one `/bin/cat` exec tool per group: cat echoes the
/// arguments, so a call that passes validation succeeds.
std::string write_config(const test::temp_dir& dir, const sample& s) {
  json::array tools;
  for (const auto& g : s.groups)
    tools.push_back(json::object{{"name", g.tool},
                                 {"description", g.where},
                                 {"type", "exec"},
                                 {"command", json::array{"/bin/cat"}},
                                 {"input_schema", g.input_schema}});
  auto path = dir.sub("node.json");
  std::ofstream out{path};
  out << json::serialize(json::object{{"mcp_tools", std::move(tools)}});
  return path;
}

/// A 2026-07-28 stateless tools/call of `tool` with {"v": data}.
json::object call_request(int64_t id, const std::string& tool, const json::value& data) {
  return json::object{
    {"jsonrpc", "2.0"},
    {"id", id},
    {"method", "tools/call"},
    {"params",
     json::object{
       {"name", tool},
       {"arguments", json::object{{"v", data}}},
       {"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                              {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}}}};
}

/// The JSON-RPC response in an HTTP body: the body itself, or the last
/// response event of an SSE body.
json::value response_of(const std::string& body) {
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec)
    return v;
  json::value last;
  std::istringstream lines{body};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data:", 0) != 0)
      continue;
    auto m = json::parse(line.substr(5), ec);
    if (!ec && m.is_object()
        && (m.as_object().contains("result") || m.as_object().contains("error")))
      last = m;
  }
  return last;
}

/// What the node said about one call of `tool` with {"v": data}, as a
/// verdict on the arguments: empty when it agrees with `expected`, else why not.
std::string judge(const json::value& response, const json::value& data, bool expected) {
  if (!response.is_object())
    return "no JSON-RPC response";
  const auto& r = response.as_object();
  if (expected) {
    auto res = r.if_contains("result");
    if (res == nullptr || !res->is_object())
      return "expected a result, got " + json::serialize(response);
    if (auto e = res->as_object().if_contains("isError"); e && *e == json::value(true))
      return "the tool failed: " + json::serialize(response);
    // The tool ran: cat gave back the arguments as they were sent.
    auto echoed = res->as_object().if_contains("structuredContent");
    if (echoed == nullptr || *echoed != json::value(json::object{{"v", data}}))
      return "the tool did not echo the arguments: " + json::serialize(response);
    return {};
  }
  auto err = r.if_contains("error");
  if (err == nullptr || !err->is_object())
    return "expected -32602, got " + json::serialize(response);
  auto code = err->as_object().if_contains("code");
  if (code == nullptr || *code != json::value(-32602))
    return "expected -32602, got " + json::serialize(response);
  // The message names the failing path and the schema keyword inside `v`.
  auto msg = err->as_object().if_contains("message");
  if (msg == nullptr || !msg->is_string()
      || msg->as_string().find("(schema #/properties/v") == json::string::npos)
    return "a -32602 without the schema path: " + json::serialize(response);
  return {};
}

/// The library's verdict on the same wrapped schema; empty when it agrees.
std::string library_verdict(const suite_group& g, const suite_test& t) {
  auto compiled = schema::validator::compile(g.input_schema);
  if (!compiled)
    return "the library refuses the schema: " + compiled.error().to_string();
  json::value args = json::object{{"v", t.data}};
  bool valid = compiled->is_valid(args);
  if (valid != compiled->validate(args).valid())
    return "is_valid() and validate() disagree";
  if (valid != t.valid)
    return std::string{"the library says "} + (valid ? "valid" : "invalid");
  return {};
}

void report(const sample& s, const std::string& transport, size_t valid_calls, size_t invalid_calls,
            const std::vector<std::string>& disagreements) {
  WARN("schema e2e over " << transport << ": " << s.groups.size() << " groups ("
                          << s.groups.size() - s.draft7_groups << " draft 2020-12, "
                          << s.draft7_groups << " draft-07) from " << s.files.size() << " files, "
                          << valid_calls + invalid_calls << " calls (" << valid_calls << " valid, "
                          << invalid_calls << " invalid), " << disagreements.size()
                          << " disagreements");
  size_t shown = 0;
  for (const auto& d : disagreements)
    if (shown++ < 40)
      FAIL_CHECK(d);
  CHECK(disagreements.empty());
}

void check_sample_shape(const sample& s, size_t min_groups, size_t min_files) {
  CHECK(s.groups.size() - s.draft7_groups >= min_groups);
  CHECK(s.draft7_groups > 0);
  std::set<std::string> files2020;
  for (const auto& f : s.files)
    if (f.rfind("draft2020-12/", 0) == 0)
      files2020.insert(f);
  CHECK(files2020.size() >= min_files);
  for (const char* f :
       {"unevaluatedProperties", "unevaluatedItems", "prefixItems", "dependentRequired",
        "dependentSchemas", "minContains", "maxContains", "format", "multipleOf", "enum", "const",
        "items", "properties", "patternProperties"}) {
    INFO("the sample lacks draft2020-12/" << f << ".json");
    CHECK(files2020.count("draft2020-12/" + std::string{f} + ".json") == 1);
  }
}

} // namespace

TEST_CASE("a sample of the official JSON Schema suite gets the suite's verdict from tools/call "
          "over HTTP",
          "[schema][mcp][integration]") {
  auto s = take_sample(6, 14, 2);
  check_sample_shape(s, 60, 15);
  test::temp_dir dir;
  auto config = write_config(dir, s);
  test::node_process node{{"node", "--data", dir.sub("data"), "--config", config, "--http",
                           "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());

  std::vector<std::string> disagreements;
  size_t valid_calls = 0, invalid_calls = 0;
  int64_t id = 1;
  for (const auto& g : s.groups) {
    for (const auto& t : g.tests) {
      auto body = json::serialize(call_request(id++, g.tool, t.data));
      auto r = test::http_call(
        port, "POST", "/mcp", body,
        {"Content-Type: application/json", "Accept: application/json, text/event-stream",
         "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: " + g.tool});
      (t.valid ? valid_calls : invalid_calls)++;
      auto why = judge(response_of(r.body), t.data, t.valid);
      if (why.empty() && r.status != (t.valid ? 200 : 400))
        why = "HTTP " + std::to_string(r.status) + " for a " + (t.valid ? "valid" : "invalid")
              + " call";
      auto lib = library_verdict(g, t);
      if (!why.empty() || !lib.empty())
        disagreements.push_back(g.where + " | " + t.description + " | data: "
                                + json::serialize(t.data) + (why.empty() ? "" : " | node: " + why)
                                + (lib.empty() ? "" : " | library: " + lib));
    }
  }
  report(s, "HTTP", valid_calls, invalid_calls, disagreements);
  CHECK(node.running());
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}

TEST_CASE("a sample of the official JSON Schema suite gets the suite's verdict from tools/call "
          "over cairn mcp stdio",
          "[schema][mcp][stdio][integration]") {
  auto s = take_sample(2, 4, 1);
  check_sample_shape(s, 20, 15);
  test::temp_dir dir;
  auto config = write_config(dir, s);
  test::stdio_child child{test::cairn_binary(),
                          {"mcp", "stdio", "--config", config, "--data", dir.sub("data")}};

  // Requests are pipelined a window at a time; responses come back in any
  // order and are matched by id. stdin stays open until the last one came.
  struct pending_call {
    const suite_group* group;
    const suite_test* test;
  };
  std::vector<pending_call> calls;
  for (const auto& g : s.groups)
    for (const auto& t : g.tests)
      calls.push_back({&g, &t});
  std::map<int64_t, json::value> responses;
  constexpr size_t window = 16;
  size_t sent = 0;
  bool broken = false;
  while (responses.size() < calls.size() && !broken) {
    while (sent < calls.size() && sent - responses.size() < window) {
      auto& c = calls[sent];
      auto line =
        json::serialize(call_request(static_cast<int64_t>(sent), c.group->tool, c.test->data))
        + "\n";
      if (!child.write(line)) {
        broken = true;
        break;
      }
      ++sent;
    }
    if (broken)
      break;
    auto line = child.read_line();
    if (!line) {
      broken = true;
      break;
    }
    json::error_code ec;
    auto msg = json::parse(*line, ec);
    INFO("stdout line: " << *line);
    REQUIRE(!ec);
    auto rid = msg.as_object().if_contains("id");
    REQUIRE(rid != nullptr);
    REQUIRE(rid->is_int64());
    REQUIRE(rid->as_int64() >= 0);
    REQUIRE(static_cast<size_t>(rid->as_int64()) < sent);
    REQUIRE(responses.count(rid->as_int64()) == 0);
    responses.emplace(rid->as_int64(), std::move(msg));
  }
  INFO("stderr of cairn mcp stdio:\n" << child.error_output());
  REQUIRE_FALSE(broken);
  REQUIRE(responses.size() == calls.size());

  std::vector<std::string> disagreements;
  size_t valid_calls = 0, invalid_calls = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    const auto& g = *calls[i].group;
    const auto& t = *calls[i].test;
    (t.valid ? valid_calls : invalid_calls)++;
    auto why = judge(responses[static_cast<int64_t>(i)], t.data, t.valid);
    auto lib = library_verdict(g, t);
    if (!why.empty() || !lib.empty())
      disagreements.push_back(g.where + " | " + t.description + " | data: "
                              + json::serialize(t.data) + (why.empty() ? "" : " | node: " + why)
                              + (lib.empty() ? "" : " | library: " + lib));
  }
  report(s, "stdio", valid_calls, invalid_calls, disagreements);
  child.close_stdin();
  CHECK(child.wait() == 0);
}
