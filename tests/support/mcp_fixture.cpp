// SPDX-License-Identifier: Apache-2.0
// The conformance fixture: what the official MCP conformance suite calls,
// registered like any other tool. Each tool runs as a durable call actor.
// The tools that answer at once or stream are here; the multi-round-trip
// and task tools are in mcp_fixture_rounds.cpp, the resources and prompts in
// mcp_fixture_resources.cpp.
#include "mcp_fixture.hpp"

#include <algorithm>
#include <thread>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "mcp_fixture_kit.hpp"

namespace cairn::test {

using namespace fixture;

void register_conformance_fixture(mcp::server& srv) {
  // The first tool listed must succeed with empty arguments.
  srv.add_tool(simple("test_simple_text", "Returns a simple text response", [](call&) {
    return tool_result::text("This is a simple text response for testing.");
  }));
  srv.add_tool(simple("test_image_content", "Returns an image",
                      [](call&) { return content(json::array{image()}); }));
  srv.add_tool(simple("test_audio_content", "Returns an audio clip", [](call&) {
    return content(
      json::array{json::object{{"type", "audio"}, {"data", wav}, {"mimeType", "audio/wav"}}});
  }));
  srv.add_tool(simple("test_embedded_resource", "Returns an embedded resource", [](call&) {
    return content(json::array{
      json::object{{"type", "resource"},
                   {"resource", json::object{{"uri", "test://embedded-resource"},
                                             {"mimeType", "text/plain"},
                                             {"text", "This is an embedded resource content."}}}}});
  }));
  srv.add_tool(
    simple("test_multiple_content_types", "Returns text, an image and a resource", [](call&) {
      return content(json::array{
        text("Multiple content types test:"), image(),
        json::object{{"type", "resource"},
                     {"resource", json::object{{"uri", "test://mixed-content-resource"},
                                               {"mimeType", "application/json"},
                                               {"text", "{\"test\":\"data\",\"value\":123}"}}}}});
    }));
  srv.add_tool(simple("test_tool_with_logging", "Sends log messages while it runs", [](call& c) {
    c.log("info", "Tool execution started");
    pause(c, 50);
    c.log("info", "Tool processing data");
    pause(c, 50);
    c.log("info", "Tool execution completed");
    return tool_result::text("Tool with logging executed successfully");
  }));
  // Not a conformance tool: floods its caller with log messages (bounded by
  // its arguments) until done or cancelled, for the bound on event streams.
  srv.add_tool(simple("test_flood_logs", "Sends many large log messages", [](call& c) {
    auto num = [&c](const char* key, int64_t fallback) {
      auto v = c.arguments().if_contains(key);
      return v && v->is_int64() ? std::clamp<int64_t>(v->as_int64(), 0, 1'000'000) : fallback;
    };
    auto count = num("count", 1000);
    auto size = num("size", 1000);
    std::string filler(static_cast<size_t>(size), 'x');
    int64_t sent = 0;
    for (; sent < count && !c.cancelled(); ++sent)
      c.log("info", json::object{{"n", sent}, {"filler", filler}});
    return tool_result::text("sent " + std::to_string(sent) + " log messages");
  }));
  srv.add_tool(simple("test_tool_with_progress", "Reports progress while it runs", [](call& c) {
    for (int step = 0; step <= 100; step += 50) {
      c.progress(step, 100, "Completed step " + std::to_string(step) + " of 100");
      if (step < 100)
        pause(c, 50);
    }
    return tool_result::text("progress-test-1");
  }));
  srv.add_tool(simple("test_error_handling", "Always fails, as a tool error", [](call&) {
    return tool_result::error("This tool intentionally returns an error for testing");
  }));
  srv.add_tool(simple("test_reconnection", "Completes after a short pause", [](call& c) {
    pause(c, 100);
    return tool_result::text("Reconnection test completed successfully. If you received this, the "
                             "client properly reconnected after stream closure.");
  }));
  {
    auto t = simple("test_sampling", "Asks the client's model a question",
                    [](call& c) -> caf::expected<tool_result> {
                      auto prompt = str(c.arguments().at("prompt"), {});
                      auto a = c.ask("sampling", "sampling/createMessage", sampling(prompt, 100));
                      if (!a)
                        return tool_result::error(render(a.error()));
                      return tool_result::text("LLM response: " + sampled(*a));
                    });
    t.input_schema = json::object{
      {"type", "object"},
      {"properties",
       json::object{{"prompt", json::object{{"type", "string"},
                                            {"description", "The prompt to send to the LLM"}}}}},
      {"required", json::array{"prompt"}}};
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple(
      "test_elicitation", "Asks the user for information",
      [](call& c) -> caf::expected<tool_result> {
        auto msg = str(c.arguments().at("message"), {});
        auto a = c.ask(
          "user_info", "elicitation/create",
          elicit(
            msg,
            json::object{
              {"username", json::object{{"type", "string"}, {"description", "User's response"}}},
              {"email", json::object{{"type", "string"}, {"description", "User's email address"}}}},
            json::array{"username", "email"}));
        if (!a)
          return tool_result::error(render(a.error()));
        return tool_result::text("User response: action=" + str(*a, {"action"})
                                 + ", content=" + str(*a, {"content"}));
      });
    t.input_schema = json::object{
      {"type", "object"},
      {"properties",
       json::object{{"message", json::object{{"type", "string"},
                                             {"description", "The message to show the user"}}}}},
      {"required", json::array{"message"}}};
    srv.add_tool(std::move(t));
  }
  srv.add_tool(simple(
    "test_elicitation_sep1034_defaults", "Asks the user with default values",
    [](call& c) -> caf::expected<tool_result> {
      json::object props{
        {"name",
         json::object{{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
        {"age", json::object{{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
        {"score",
         json::object{{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
        {"status", json::object{{"type", "string"},
                                {"description", "User status"},
                                {"enum", json::array{"active", "inactive", "pending"}},
                                {"default", "active"}}},
        {"verified", json::object{{"type", "boolean"},
                                  {"description", "Verification status"},
                                  {"default", true}}}};
      auto a = c.ask("defaults", "elicitation/create",
                     elicit("Please review and update the form fields with defaults",
                            std::move(props), json::array{}));
      if (!a)
        return tool_result::error(render(a.error()));
      return tool_result::text("Elicitation completed: action=" + str(*a, {"action"})
                               + ", content=" + str(*a, {"content"}));
    }));
  srv.add_tool(simple(
    "test_elicitation_sep1330_enums", "Asks the user to pick from enums",
    [](call& c) -> caf::expected<tool_result> {
      auto titled = [](const char* a, const char* b, const char* cc, const char* word) {
        json::array out;
        const char* values[] = {a, b, cc};
        const char* names[] = {"First", "Second", "Third"};
        for (int i = 0; i < 3; ++i)
          out.push_back(
            json::object{{"const", values[i]}, {"title", std::string{names[i]} + " " + word}});
        return out;
      };
      json::object props{
        {"untitledSingle", json::object{{"type", "string"},
                                        {"description", "Select one option"},
                                        {"enum", json::array{"option1", "option2", "option3"}}}},
        {"titledSingle", json::object{{"type", "string"},
                                      {"description", "Select one option with titles"},
                                      {"oneOf", titled("value1", "value2", "value3", "Option")}}},
        {"legacyEnum",
         json::object{{"type", "string"},
                      {"description", "Select one option (legacy)"},
                      {"enum", json::array{"opt1", "opt2", "opt3"}},
                      {"enumNames", json::array{"Option One", "Option Two", "Option Three"}}}},
        {"untitledMulti",
         json::object{
           {"type", "array"},
           {"description", "Select multiple options"},
           {"minItems", 1},
           {"maxItems", 3},
           {"items", json::object{{"type", "string"},
                                  {"enum", json::array{"option1", "option2", "option3"}}}}}},
        {"titledMulti",
         json::object{
           {"type", "array"},
           {"description", "Select multiple options with titles"},
           {"minItems", 1},
           {"maxItems", 3},
           {"items", json::object{{"anyOf", titled("value1", "value2", "value3", "Choice")}}}}}};
      auto a = c.ask(
        "enums", "elicitation/create",
        elicit("Please select options from the enum fields", std::move(props), json::array{}));
      if (!a)
        return tool_result::error(render(a.error()));
      return tool_result::text("Elicitation completed: action=" + str(*a, {"action"})
                               + ", content=" + str(*a, {"content"}));
    }));
  {
    auto t =
      simple("json_schema_2020_12_tool",
             "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
             [](call& c) { return tool_result::text("ok: " + json::serialize(c.arguments())); });
    t.input_schema =
      json::parse(R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
 "$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},
 "properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"contactMethod":{"type":"string","enum":["phone","email"]},"phone":{"type":"string"},"email":{"type":"string"}},
 "allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],
 "if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"then":{"required":["phone"]},"else":{"required":["email"]},
 "additionalProperties":false})")
        .as_object();
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("test_missing_capability", "Needs the client's sampling capability",
                    [](call&) { return tool_result::text("the client can sample"); });
    t.requires_capabilities = json::object{{"sampling", json::object{}}};
    srv.add_tool(std::move(t));
  }
  srv.add_tool(simple("test_streaming_elicitation", "Asks the user through input_required",
                      [](call& c) -> caf::expected<tool_result> {
                        auto name = ask_string(
                          c, "user_name",
                          elicit("What is your name?",
                                 json::object{{"name", json::object{{"type", "string"}}}},
                                 json::array{"name"}),
                          "name");
                        if (!name)
                          return std::move(name.error());
                        return tool_result::text("Hello, " + *name + "!");
                      }));
  srv.add_tool(simple("test_logging_tool", "Logs when the client asked for logs", [](call& c) {
    c.log("info", "test_logging_tool ran");
    return tool_result::text("logged");
  }));
  {
    auto t = simple("test_custom_headers", "Routes by the Region header", [](call& c) {
      return tool_result::text("region " + str(c.arguments().at("region"), {}));
    });
    t.input_schema = json::object{
      {"type", "object"},
      {"properties",
       json::object{{"region", json::object{{"type", "string"}, {"x-mcp-header", "Region"}}}}},
      {"required", json::array{"region"}}};
    srv.add_tool(std::move(t));
  }
  srv.add_tool(
    simple("test_trigger_tool_change", "Tells listeners the tool list changed", [&srv](call&) {
      srv.notify_list_changed("tools");
      return tool_result::text("tools list changed");
    }));
  srv.add_tool(
    simple("test_trigger_prompt_change", "Tells listeners the prompt list changed", [&srv](call&) {
      srv.notify_list_changed("prompts");
      return tool_result::text("prompts list changed");
    }));

  add_round_trip_tools(srv);
  add_task_tools(srv);
  add_resources_and_prompts(srv);
}

} // namespace cairn::test
