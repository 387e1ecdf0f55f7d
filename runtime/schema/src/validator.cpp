// SPDX-License-Identifier: Apache-2.0
// The library's boundary: exceptions used inside (compile_failure, std::bad_alloc, ...) end
// here, as compile errors or as a validation error.
#include <cairn/schema/validator.hpp>

#include "internal/compiler.hpp"
#include "internal/node.hpp"

namespace cairn::schema {

compile_result validator::compile(const boost::json::value& schema,
                                  const compile_options& options) {
  return compile(schema, options, registry{});
}

compile_result validator::compile(const boost::json::value& schema, const compile_options& options,
                                  const registry& known) {
  try {
    internal::compiler c(options, &known);
    return validator(c.run(schema));
  } catch (const internal::compile_failure& f) {
    return compile_error{f.path, f.message};
  } catch (const std::exception& e) {
    return compile_error{"#", std::string("schema could not be compiled: ") + e.what()};
  }
}

validation_result validator::validate(const boost::json::value& instance) const {
  std::vector<validation_error> errors;
  try {
    internal::eval_context ctx(impl_->options, &errors, impl_->uses_dynamic_scope);
    bool ok = impl_->root->evaluate(instance, nullptr, ctx, nullptr);
    if (!ok && errors.empty())
      errors.push_back({"$", impl_->root->schema_path_, "instance does not match the schema"});
  } catch (const std::exception& e) {
    errors.push_back({"$", "#", std::string("validation could not complete: ") + e.what()});
  }
  return validation_result(std::move(errors));
}

bool validator::is_valid(const boost::json::value& instance) const {
  try {
    internal::eval_context ctx(impl_->options, nullptr, impl_->uses_dynamic_scope);
    return impl_->root->evaluate(instance, nullptr, ctx, nullptr);
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace cairn::schema
