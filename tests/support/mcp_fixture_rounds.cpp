// SPDX-License-Identifier: Apache-2.0
// The conformance fixture's tools that ask their client (2026-07-28
// `input_required` rounds) and its task tools (mcp_fixture.cpp registers them).
#include "mcp_fixture_kit.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"

namespace cairn::test::fixture {

void add_round_trip_tools(mcp::server& srv) {
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
}

void add_task_tools(mcp::server& srv) {
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
}

} // namespace cairn::test::fixture
