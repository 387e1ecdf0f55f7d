// SPDX-License-Identifier: Apache-2.0
// What the conformance fixture's parts share (mcp_fixture.cpp,
// mcp_fixture_rounds.cpp, mcp_fixture_resources.cpp): content blocks, tool
// specs with an empty schema, the questions a tool asks its client.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"

namespace cairn::test::fixture {

namespace json = boost::json;
using mcp::call;
using mcp::tool_result;
using mcp::tool_spec;

inline constexpr const char* png =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQ"
  "IAX8jx0gAAAABJRU5ErkJggg==";
inline constexpr const char* wav = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

inline json::object text(std::string t) {
  return json::object{{"type", "text"}, {"text", std::move(t)}};
}

inline json::object image() {
  return json::object{{"type", "image"}, {"data", png}, {"mimeType", "image/png"}};
}

inline json::object empty_schema() {
  return json::object{{"type", "object"}, {"properties", json::object{}}};
}

inline tool_spec simple(std::string name, std::string description,
                        std::function<caf::expected<tool_result>(call&)> fn) {
  tool_spec t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.input_schema = empty_schema();
  t.tasks = mcp::task_support::forbidden;
  t.handler = std::move(fn);
  return t;
}

inline tool_result content(json::array items) {
  tool_result r;
  r.content = std::move(items);
  return r;
}

inline void pause(call& c, int ms) {
  for (int i = 0; i < ms / 10 && !c.cancelled(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
}

inline json::object elicit(std::string message, json::object properties, json::array required) {
  return json::object{{"message", std::move(message)},
                      {"requestedSchema", json::object{{"type", "object"},
                                                       {"properties", std::move(properties)},
                                                       {"required", std::move(required)}}}};
}

inline json::object sampling(std::string prompt, int max_tokens) {
  return json::object{
    {"messages", json::array{json::object{{"role", "user"}, {"content", text(std::move(prompt))}}}},
    {"maxTokens", max_tokens}};
}

inline std::string str(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (auto* k : path) {
    if (!cur->is_object() || !cur->as_object().contains(k))
      return {};
    cur = &cur->as_object().at(k);
  }
  return cur->is_string() ? std::string{cur->as_string()} : json::serialize(*cur);
}

/// The text of a sampling answer.
inline std::string sampled(const json::value& v) {
  return str(v, {"content", "text"});
}

/// `ask` for a 2026-07-28 elicitation answer: the answer must be an
/// accepted form whose `field` is a string, else the round asks again.
inline caf::expected<std::string> ask_string(call& c, const char* key, json::object params,
                                             const char* field) {
  auto a = c.ask(key, "elicitation/create", std::move(params));
  if (!a)
    return std::move(a.error());
  auto v = str(*a, {"content", field});
  if (!a->is_object() || str(*a, {"action"}) != "accept" || v.empty())
    return make_error(errc::invalid_argument,
                      std::string{"the answer lacks a string '"} + field + "'");
  return v;
}

/// The 2026-07-28 multi-round-trip tools (`input_required`) and the task
/// extension's tools.
void add_round_trip_tools(mcp::server& srv);
void add_task_tools(mcp::server& srv);

/// The fixture's resources, resource templates and prompts.
void add_resources_and_prompts(mcp::server& srv);

} // namespace cairn::test::fixture
