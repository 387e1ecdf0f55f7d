// SPDX-License-Identifier: Apache-2.0
// Tool argument and result checks on cairn's own JSON Schema validator
// (runtime/schema: 2020-12 by default, draft-07 when `$schema` says so).
#include "internal/schema.hpp"

#include <cairn/schema/validator.hpp>

#include "cairn/error.hpp"

namespace cairn::mcp {

struct compiled_schema::impl {
  schema::validator v;
};

compiled_schema::compiled_schema() = default;

compiled_schema::~compiled_schema() = default;

caf::expected<std::shared_ptr<compiled_schema>>
compiled_schema::compile(const boost::json::value& s) {
  if (!s.is_object() && !s.is_bool())
    return make_error(errc::invalid_argument, "a JSON Schema must be an object or a boolean");
  schema::compile_options opts;
  opts.max_errors = 3;
  auto r = schema::validator::compile(s, opts);
  if (!r)
    return make_error(errc::invalid_argument, "invalid JSON Schema at " + r.error().to_string());
  std::shared_ptr<compiled_schema> out{new compiled_schema()};
  out->impl_ = std::make_unique<impl>(impl{std::move(r).value()});
  return out;
}

std::string compiled_schema::check(const boost::json::value& doc) const {
  auto r = impl_->v.validate(doc);
  std::string out;
  for (const auto& e : r.errors()) {
    if (!out.empty())
      out += "; ";
    out += e.to_string();
  }
  return out;
}

} // namespace cairn::mcp
