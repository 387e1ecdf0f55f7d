// SPDX-License-Identifier: Apache-2.0
// JSON Schema checks for tool arguments and results: 2020-12 by default,
// draft-07 when a schema's `$schema` says so (runtime/schema, compiled once).
#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>
#include <caf/expected.hpp>

namespace cairn::mcp {

class compiled_schema {
public:
  /// Compiles `schema`; an error names what is wrong with it.
  static caf::expected<std::shared_ptr<compiled_schema>> compile(const boost::json::value& schema);
  ~compiled_schema();

  /// Empty if `doc` conforms; else the first failures (at most 3), each with
  /// its instance and schema paths
  /// (`$.items[2].sku: expected string (schema #/properties/...)`).
  std::string check(const boost::json::value& doc) const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
  compiled_schema();
};

} // namespace cairn::mcp
