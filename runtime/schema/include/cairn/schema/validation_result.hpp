// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cairn::schema {

/// One reason an instance does not satisfy a schema. A plain value; any thread.
struct validation_error {
  /// Where in the instance: `$` is the root, then `.name`, `["odd key"]` or `[2]` per step.
  std::string instance_path;
  /// The keyword that failed, as a URI fragment of the schema: `#/properties/sku/type`.
  std::string schema_path;
  /// What the keyword expected, e.g. `expected string`.
  std::string message;

  /// `$.items[2].sku: expected string (schema #/properties/items/items/properties/sku/type)`.
  std::string to_string() const {
    return instance_path + ": " + message + " (schema " + schema_path + ")";
  }
};

/// The outcome of `validator::validate`: valid, or the first errors found (bounded by
/// `compile_options::max_errors`). A plain value; any thread.
class validation_result {
public:
  validation_result() = default;
  /// A result with `errors`: invalid unless the list is empty.
  explicit validation_result(std::vector<validation_error> errors) : errors_(std::move(errors)) {}

  /// True when the instance satisfies the schema (then `errors()` is empty).
  bool valid() const { return errors_.empty(); }
  /// The errors found, in the order the checks ran; empty when valid.
  const std::vector<validation_error>& errors() const { return errors_; }

  /// All errors, one `to_string()` per line.
  std::string to_string() const {
    std::string out;
    for (const auto& e : errors_)
      out += e.to_string() + "\n";
    return out;
  }

private:
  std::vector<validation_error> errors_;
};

} // namespace cairn::schema
