// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>

#include <map>
#include <string>
#include <string_view>

namespace cairn::schema {

/// The documents a schema may reference by absolute URI (remote `$ref`s, custom metaschemas named
/// by `$schema`). Nothing is ever fetched from the network: a reference resolves against this
/// registry, the built-in metaschemas of the supported dialects, or not at all.
///
/// Thread contract: not thread-safe while documents are added; once filled, any number of
/// threads may compile against it concurrently (compiling only reads it). A compiled validator
/// does not refer to the registry, so the registry may be destroyed after compiling.
class registry {
public:
  /// Makes `document` known under `uri` (an absolute URI; a trailing empty fragment `#` is
  /// ignored). Documents are compiled only when a schema references them. Returns false, and
  /// changes nothing, when `uri` is not absolute or is already registered.
  bool add(std::string_view uri, boost::json::value document);

  /// The document registered under `uri`, or nullptr.
  const boost::json::value* find(std::string_view uri) const;

  /// The number of documents registered.
  std::size_t size() const { return documents_.size(); }

private:
  std::map<std::string, boost::json::value, std::less<>> documents_;
};

} // namespace cairn::schema
