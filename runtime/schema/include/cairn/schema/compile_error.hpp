// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace cairn::schema {

/// Why a schema was refused at compile time: where in the schema, and what is wrong there. A
/// plain value; any thread.
struct compile_error {
  /// JSON pointer of the offending value, as a URI fragment: `#/properties/name/pattern` in the
  /// compiled schema, `<uri>#/...` in a document found through the registry.
  std::string path;
  /// What is wrong, e.g. `unsupported regular expression: ...`.
  std::string message;

  /// `path: message`, the form to show a user.
  std::string to_string() const { return path + ": " + message; }
};

} // namespace cairn::schema
