// SPDX-License-Identifier: Apache-2.0
// The conformance fixture: what the official MCP conformance suite calls,
// registered like any other tool. Each tool runs as a durable call actor.
#include "mcp_fixture.hpp"

#include <algorithm>
#include <thread>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"

namespace cairn::test {

namespace json = boost::json;
using mcp::call;
using mcp::tool_result;
using mcp::tool_spec;

namespace {

constexpr const char* png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQ"
                            "IAX8jx0gAAAABJRU5ErkJggg==";
constexpr const char* wav = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

json::object text(std::string t) {
  return json::object{{"type", "text"}, {"text", std::move(t)}};
}

json::object image() {
  return json::object{{"type", "image"}, {"data", png}, {"mimeType", "image/png"}};
}

json::object empty_schema() {
  return json::object{{"type", "object"}, {"properties", json::object{}}};
}

tool_spec simple(std::string name, std::string description,
                 std::function<caf::expected<tool_result>(call&)> fn) {
  tool_spec t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.input_schema = empty_schema();
  t.tasks = mcp::task_support::forbidden;
  t.handler = std::move(fn);
  return t;
}

tool_result content(json::array items) {
  tool_result r;
  r.content = std::move(items);
  return r;
}

void pause(call& c, int ms) {
  for (int i = 0; i < ms / 10 && !c.cancelled(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
}

json::object elicit(std::string message, json::object properties, json::array required) {
  return json::object{{"message", std::move(message)},
                      {"requestedSchema", json::object{{"type", "object"},
                                                       {"properties", std::move(properties)},
                                                       {"required", std::move(required)}}}};
}

json::object sampling(std::string prompt, int max_tokens) {
  return json::object{
    {"messages", json::array{json::object{{"role", "user"}, {"content", text(std::move(prompt))}}}},
    {"maxTokens", max_tokens}};
}

std::string str(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (auto* k : path) {
    if (!cur->is_object() || !cur->as_object().contains(k))
      return {};
    cur = &cur->as_object().at(k);
  }
  return cur->is_string() ? std::string{cur->as_string()} : json::serialize(*cur);
}

/// The text of a sampling answer.
std::string sampled(const json::value& v) {
  return str(v, {"content", "text"});
}

/// `ask` for a 2026-07-28 elicitation answer: the answer must be an
/// accepted form whose `field` is a string, else the round asks again.
caf::expected<std::string> ask_string(call& c, const char* key, json::object params,
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

} // namespace

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

  // --- multi-round-trip tools (2026-07-28 input_required) -------------------
  auto name_question = [] {
    return elicit("What is your name?", json::object{{"name", json::object{{"type", "string"}}}},
                  json::array{"name"});
  };
  srv.add_tool(simple("test_input_required_result_elicitation", "Asks the user's name",
                      [=](call& c) -> caf::expected<tool_result> {
                        auto name = ask_string(c, "user_name", name_question(), "name");
                        if (!name)
                          return std::move(name.error());
                        return tool_result::text("Hello, " + *name + "!");
                      }));
  srv.add_tool(simple("test_input_required_result_sampling", "Asks the client's model",
                      [](call& c) -> caf::expected<tool_result> {
                        auto a = c.ask("capital_question", "sampling/createMessage",
                                       sampling("What is the capital of France?", 100));
                        if (!a)
                          return std::move(a.error());
                        return tool_result::text("The model said: " + sampled(*a));
                      }));
  srv.add_tool(simple("test_input_required_result_list_roots", "Asks for the client's roots",
                      [](call& c) -> caf::expected<tool_result> {
                        auto a = c.ask("client_roots", "roots/list", json::object{});
                        if (!a)
                          return std::move(a.error());
                        size_t n = 0;
                        if (a->is_object())
                          if (auto r = a->as_object().if_contains("roots"); r && r->is_array())
                            n = r->as_array().size();
                        return tool_result::text("Found " + std::to_string(n) + " root(s)");
                      }));
  auto confirm = [](call& c, const char* message) -> caf::expected<bool> {
    auto a = c.ask(
      "confirm", "elicitation/create",
      elicit(message, json::object{{"ok", json::object{{"type", "boolean"}}}}, json::array{"ok"}));
    if (!a)
      return std::move(a.error());
    return str(*a, {"content", "ok"}) == "true";
  };
  srv.add_tool(simple("test_input_required_result_request_state", "Confirms through requestState",
                      [=](call& c) -> caf::expected<tool_result> {
                        auto ok = confirm(c, "Please confirm");
                        if (!ok)
                          return std::move(ok.error());
                        return tool_result::text(*ok ? "state-ok: confirmed"
                                                     : "state-ok: declined");
                      }));
  srv.add_tool(simple("test_input_required_result_tampered_state", "Refuses a forged requestState",
                      [=](call& c) -> caf::expected<tool_result> {
                        auto ok = confirm(c, "Please confirm");
                        if (!ok)
                          return std::move(ok.error());
                        return tool_result::text("confirmed");
                      }));
  srv.add_tool(simple(
    "test_input_required_result_multiple_inputs", "Asks three questions at once",
    [=](call& c) -> caf::expected<tool_result> {
      auto answers = c.ask_all(json::object{
        {"user_name", json::object{{"method", "elicitation/create"}, {"params", name_question()}}},
        {"greeting", json::object{{"method", "sampling/createMessage"},
                                  {"params", sampling("Generate a greeting", 50)}}},
        {"client_roots", json::object{{"method", "roots/list"}, {"params", json::object{}}}}});
      if (!answers)
        return std::move(answers.error());
      return tool_result::text("Got " + str((*answers)["user_name"], {"content", "name"}) + ", "
                               + sampled((*answers)["greeting"]) + " and the roots");
    }));
  srv.add_tool(simple(
    "test_input_required_result_multi_round", "Asks two questions in turn",
    [=](call& c) -> caf::expected<tool_result> {
      auto name = ask_string(c, "step1",
                             elicit("Step 1: What is your name?",
                                    json::object{{"name", json::object{{"type", "string"}}}},
                                    json::array{"name"}),
                             "name");
      if (!name)
        return std::move(name.error());
      auto color = ask_string(c, "step2",
                              elicit("Step 2: What is your favorite color?",
                                     json::object{{"color", json::object{{"type", "string"}}}},
                                     json::array{"color"}),
                              "color");
      if (!color)
        return std::move(color.error());
      return tool_result::text("Multi-round complete for " + *name + " who likes " + *color);
    }));
  srv.add_tool(simple(
    "test_input_required_result_capabilities", "Asks only through what the client supports",
    [=](call& c) -> caf::expected<tool_result> {
      const auto& caps = c.client_capabilities();
      json::object asks;
      if (caps.contains("elicitation"))
        asks["user_name"] =
          json::object{{"method", "elicitation/create"}, {"params", name_question()}};
      if (caps.contains("sampling"))
        asks["sample_input"] = json::object{{"method", "sampling/createMessage"},
                                            {"params", sampling("Sample request", 50)}};
      if (caps.contains("roots"))
        asks["client_roots"] = json::object{{"method", "roots/list"}, {"params", json::object{}}};
      if (asks.empty())
        return tool_result::text("the client supports no input requests");
      auto answers = c.ask_all(std::move(asks));
      if (!answers)
        return std::move(answers.error());
      return tool_result::text("got " + std::to_string(answers->size()) + " answers");
    }));

  // --- tasks (2026-07-28 extension) -----------------------------------------
  {
    auto t = simple("greet", "Greets someone at once", [](call& c) {
      return tool_result::text("Hello, " + str(c.arguments().at("name"), {}) + "!");
    });
    t.input_schema =
      json::object{{"type", "object"},
                   {"properties", json::object{{"name", json::object{{"type", "string"}}}}},
                   {"required", json::array{"name"}}};
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("slow_compute", "Computes for the given number of seconds", [](call& c) {
      auto secs = c.arguments().at("seconds").to_number<double>();
      pause(c, static_cast<int>(secs * 1000));
      return tool_result::text("computed " + str(c.arguments().at("label"), {}) + " in "
                               + json::serialize(c.arguments().at("seconds")) + " s");
    });
    t.input_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"seconds", json::object{{"type", "number"}, {"minimum", 0}}},
                                  {"label", json::object{{"type", "string"}}}}},
      {"required", json::array{"seconds"}}};
    t.tasks = mcp::task_support::optional;
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("failing_job", "Runs as a task and ends with a tool error", [](call& c) {
      pause(c, 1000);
      return tool_result::error("the job failed, as it always does");
    });
    t.tasks = mcp::task_support::required;
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("protocol_error_job", "Runs as a task and fails with a protocol error",
                    [](call&) -> caf::expected<tool_result> {
                      return make_error(errc::handler_failed, "the job hit an internal error");
                    });
    t.tasks = mcp::task_support::optional;
    t.max_attempts = 1;
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("confirm_delete", "Deletes a file after the user confirms",
                    [](call& c) -> caf::expected<tool_result> {
                      auto file = str(c.arguments().at("filename"), {});
                      auto a =
                        c.ask("confirm", "elicitation/create",
                              elicit("Delete " + file + "?",
                                     json::object{{"confirm", json::object{{"type", "boolean"}}}},
                                     json::array{"confirm"}));
                      if (!a)
                        return std::move(a.error());
                      bool yes = str(*a, {"content", "confirm"}) == "true";
                      return tool_result::text(yes ? "deleted " + file : "kept " + file);
                    });
    t.input_schema =
      json::object{{"type", "object"},
                   {"properties", json::object{{"filename", json::object{{"type", "string"}}}}},
                   {"required", json::array{"filename"}}};
    t.tasks = mcp::task_support::optional;
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple(
      "multi_input", "Asks two questions at once", [](call& c) -> caf::expected<tool_result> {
        auto q = [](int n) {
          return json::object{
            {"method", "elicitation/create"},
            {"params", elicit("Question " + std::to_string(n),
                              json::object{{"name", json::object{{"type", "string"}}},
                                           {"confirm", json::object{{"type", "boolean"}}}},
                              json::array{"name"})}};
        };
        auto answers = c.ask_all(json::object{{"first", q(1)}, {"second", q(2)}});
        if (!answers)
          return std::move(answers.error());
        return tool_result::text("both answered");
      });
    t.tasks = mcp::task_support::optional;
    srv.add_tool(std::move(t));
  }
  {
    auto t = simple("test_tool_with_task", "Asks a name, then runs as a task",
                    [](call& c) -> caf::expected<tool_result> {
                      auto a =
                        c.ask("user_name", "elicitation/create",
                              elicit("What is your name?",
                                     json::object{{"name", json::object{{"type", "string"}}}},
                                     json::array{"name"}));
                      if (!a)
                        return std::move(a.error());
                      pause(c, 200);
                      return tool_result::text("Hello, " + str(*a, {"content", "name"}) + "!");
                    });
    t.tasks = mcp::task_support::required;
    t.task_inputs = json::object{
      {"user_name",
       json::object{{"method", "elicitation/create"},
                    {"params", elicit("What is your name?",
                                      json::object{{"name", json::object{{"type", "string"}}}},
                                      json::array{"name"})}}}};
    srv.add_tool(std::move(t));
  }

  // --- resources ---------------------------------------------------------------
  srv.add_resource({"test://static-text", "static-text", "Static Text Resource",
                    "A static text resource for testing", "text/plain",
                    [](const std::string& uri) -> caf::expected<json::array> {
                      return json::array{
                        json::object{{"uri", uri},
                                     {"mimeType", "text/plain"},
                                     {"text", "This is the content of the static text resource."}}};
                    }});
  srv.add_resource(
    {"test://static-binary", "static-binary", "Static Binary Resource",
     "A static binary resource for testing", "image/png",
     [](const std::string& uri) -> caf::expected<json::array> {
       return json::array{json::object{{"uri", uri}, {"mimeType", "image/png"}, {"blob", png}}};
     }});
  srv.add_resource({"test://watched-resource", "watched-resource", "Watched Resource",
                    "A resource that can be subscribed to", "text/plain",
                    [](const std::string& uri) -> caf::expected<json::array> {
                      return json::array{json::object{{"uri", uri},
                                                      {"mimeType", "text/plain"},
                                                      {"text", "Watched resource content"}}};
                    }});
  mcp::resource_template_spec tmpl;
  tmpl.uri_template = "test://template/{id}/data";
  tmpl.name = "template";
  tmpl.title = "Template Resource";
  tmpl.description = "A resource template with parameter substitution";
  tmpl.mime_type = "application/json";
  tmpl.read = [](const std::string& uri) -> caf::expected<json::array> {
    std::map<std::string, std::string> vars;
    auto prefix = std::string{"test://template/"};
    auto id = uri.substr(prefix.size(), uri.size() - prefix.size() - std::string{"/data"}.size());
    json::object body{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
    return json::array{json::object{
      {"uri", uri}, {"mimeType", "application/json"}, {"text", json::serialize(body)}}};
  };
  tmpl.complete = [](const std::string&, const std::string& value) {
    std::vector<std::string> out;
    for (const char* id : {"1", "12", "123", "42"})
      if (std::string{id}.rfind(value, 0) == 0)
        out.emplace_back(id);
    return out;
  };
  srv.add_resource_template(std::move(tmpl));

  // --- prompts -----------------------------------------------------------------
  auto user = [](json::object c) {
    return json::object{{"role", "user"}, {"content", std::move(c)}};
  };
  srv.add_prompt({"test_simple_prompt",
                  "Simple Prompt",
                  "A simple prompt without arguments",
                  {},
                  [=](const json::object&, const json::object&) -> caf::expected<json::array> {
                    return json::array{user(text("This is a simple prompt for testing."))};
                  },
                  {},
                  {}});
  srv.add_prompt({"test_prompt_with_arguments",
                  "Prompt With Arguments",
                  "A prompt with required arguments",
                  {{"arg1", "First test argument", true}, {"arg2", "Second test argument", true}},
                  [=](const json::object& a, const json::object&) -> caf::expected<json::array> {
                    return json::array{
                      user(text("Prompt with arguments: arg1='" + str(a.at("arg1"), {})
                                + "', arg2='" + str(a.at("arg2"), {}) + "'"))};
                  },
                  [](const std::string& arg, const std::string& value) {
                    std::vector<std::string> out;
                    for (const char* v : {"test", "testing", "tested", "value"})
                      if (std::string{v}.rfind(value, 0) == 0)
                        out.emplace_back(v);
                    return out;
                  },
                  {}});
  srv.add_prompt(
    {"test_prompt_with_embedded_resource",
     "Prompt With Embedded Resource",
     "A prompt that embeds a resource",
     {{"resourceUri", "URI of the resource to embed", true}},
     [=](const json::object& a, const json::object&) -> caf::expected<json::array> {
       return json::array{
         user(json::object{
           {"type", "resource"},
           {"resource", json::object{{"uri", a.at("resourceUri")},
                                     {"mimeType", "text/plain"},
                                     {"text", "Embedded resource content for testing."}}}}),
         user(text("Please process the embedded resource above."))};
     },
     {},
     {}});
  {
    mcp::prompt_spec p;
    p.name = "test_input_required_result_prompt";
    p.title = "Prompt That Asks First";
    p.description = "A prompt that asks the client for context before it is built";
    p.inputs = json::object{
      {"user_context",
       json::object{{"method", "elicitation/create"},
                    {"params", elicit("What context should the prompt use?",
                                      json::object{{"context", json::object{{"type", "string"}}}},
                                      json::array{"context"})}}}};
    p.get = [=](const json::object&, const json::object& answers) -> caf::expected<json::array> {
      auto ctx = answers.contains("user_context")
                   ? str(answers.at("user_context"), {"content", "context"})
                   : std::string{"none"};
      return json::array{user(text("Prompt with context: " + ctx))};
    };
    srv.add_prompt(std::move(p));
  }
  srv.add_prompt(
    {"test_prompt_with_image",
     "Prompt With Image",
     "A prompt that includes an image",
     {},
     [=](const json::object&, const json::object&) -> caf::expected<json::array> {
       return json::array{user(image()), user(text("Please analyze the image above."))};
     },
     {},
     {}});
}

} // namespace cairn::test
