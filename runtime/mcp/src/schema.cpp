// SPDX-License-Identifier: Apache-2.0
#define VALIJSON_USE_EXCEPTIONS 1
#include "internal/schema.hpp"

#include <algorithm>
#include <vector>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "cairn/error.hpp"

namespace cairn::mcp {

struct compiled_schema::impl {
  boost::json::value source; // valijson's adapters refer into it
  valijson::Schema schema;
};

compiled_schema::compiled_schema() : impl_(std::make_unique<impl>()) {}

compiled_schema::~compiled_schema() = default;

caf::expected<std::shared_ptr<compiled_schema>>
compiled_schema::compile(const boost::json::value& schema) {
  if (!schema.is_object() && !schema.is_bool())
    return make_error(errc::invalid_argument, "a JSON Schema must be an object or a boolean");
  std::shared_ptr<compiled_schema> out{new compiled_schema()};
  out->impl_->source = schema;
  try {
    valijson::SchemaParser parser{valijson::SchemaParser::kDraft7};
    valijson::adapters::BoostJsonAdapter adapter{out->impl_->source};
    parser.populateSchema(adapter, out->impl_->schema);
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string{"invalid JSON Schema: "} + e.what());
  }
  return out;
}

std::string compiled_schema::check(const boost::json::value& doc) const {
  valijson::Validator validator{valijson::Validator::kStrongTypes};
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter adapter{doc};
  if (validator.validate(impl_->schema, adapter, &results))
    return {};
  // valijson reports the outer failure first ("failed to validate against
  // schema associated with property ..."); the inner ones name the problem.
  std::vector<valijson::ValidationResults::Error> all;
  valijson::ValidationResults::Error err;
  while (results.popError(err))
    all.push_back(err);
  auto generic = [](const std::string& d) { return d.rfind("Failed to validate", 0) == 0; };
  bool specific =
    std::any_of(all.begin(), all.end(), [&](auto& e) { return !generic(e.description); });
  std::string out;
  size_t shown = 0;
  for (auto it = all.rbegin(); it != all.rend() && shown < 3; ++it) {
    if (specific && generic(it->description))
      continue;
    std::string path = "$";
    for (const auto& part : it->context) {
      if (part == "<root>")
        continue;
      // "[name]" for properties, "[3]" for items: print $.name and $[3].
      auto inner = part.size() > 2 && part.front() == '[' ? part.substr(1, part.size() - 2) : part;
      bool index = !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
      path += index ? "[" + inner + "]" : "." + inner;
    }
    if (!out.empty())
      out += "; ";
    out += path + ": " + it->description;
    ++shown;
  }
  return out;
}

} // namespace cairn::mcp
