// SPDX-License-Identifier: Apache-2.0
// A C++ MCP tool with its contract: an input schema (checked before the
// handler runs: a bad call never reaches it), an output schema (its
// structured result is checked after), annotations, a risk class and a
// retry budget. It runs in a node of your own, beside every tool the
// node's configuration declares, over MCP on HTTP (/mcp) or stdio
// (`word-stats-node mcp stdio`), and plans can call it.
#include <algorithm>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include <cairn/node.hpp>

namespace json = boost::json;

cairn::mcp::tool_spec word_stats() {
  cairn::mcp::tool_spec t;
  t.name = "word_stats";
  t.title = "Word statistics";
  t.description = "Counts the words of a text and finds its longest word";
  t.input_schema = json::parse(R"({
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 100000}},
    "required": ["text"], "additionalProperties": false})")
                     .as_object();
  t.output_schema = json::parse(R"({
    "type": "object",
    "properties": {"words": {"type": "integer", "minimum": 0},
                   "longest": {"type": "string"}},
    "required": ["words", "longest"], "additionalProperties": false})")
                      .as_object();
  t.annotations.read_only = true;
  t.annotations.idempotent = true;
  t.risk = cairn::mcp::risk_class::low;
  t.runs_inline = true; // no I/O, no waiting: it may run on the actor thread
  t.handler = [](cairn::mcp::call& c) -> caf::expected<cairn::mcp::tool_result> {
    std::istringstream in{std::string{c.arguments().at("text").as_string()}};
    int64_t words = 0;
    std::string word, longest;
    while (in >> word) {
      ++words;
      if (word.size() > longest.size())
        longest = word;
    }
    auto r = cairn::mcp::tool_result::text(std::to_string(words) + " words; the longest is '"
                                           + longest + "'");
    r.structured = json::object{{"words", words}, {"longest", longest}};
    return r;
  };
  return t;
}

int main(int argc, char** argv) {
  return cairn::node_main(argc, argv, [](cairn::node_builder& b) { b.tool(word_stats()); });
}
