// SPDX-License-Identifier: Apache-2.0
// The conformance fixture's resources, resource templates and prompts
// (mcp_fixture.cpp registers them).
#include "mcp_fixture_kit.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"

namespace cairn::test::fixture {

void add_resources_and_prompts(mcp::server& srv) {
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

} // namespace cairn::test::fixture
