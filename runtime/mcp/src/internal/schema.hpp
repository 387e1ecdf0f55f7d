// SPDX-License-Identifier: Apache-2.0
// JSON Schema checks for tool arguments and results (valijson, draft 7
// semantics, which cover the 2020-12 keywords tools use in practice).
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

  /// Empty if `doc` conforms; else the first failures, each with its JSON
  /// path (`$.items[2].name: ...`).
  std::string check(const boost::json::value& doc) const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
  compiled_schema();
};

} // namespace cairn::mcp
