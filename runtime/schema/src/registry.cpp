// SPDX-License-Identifier: Apache-2.0
#include <cairn/schema/registry.hpp>

#include "internal/uri.hpp"

namespace cairn::schema {

bool registry::add(std::string_view uri, boost::json::value document) {
  std::string key(uri);
  if (!key.empty() && key.back() == '#')
    key.pop_back();
  if (!internal::is_absolute_uri(key) || key.find('#') != std::string::npos)
    return false;
  return documents_.emplace(std::move(key), std::move(document)).second;
}

const boost::json::value* registry::find(std::string_view uri) const {
  auto it = documents_.find(uri);
  return it == documents_.end() ? nullptr : &it->second;
}

} // namespace cairn::schema
