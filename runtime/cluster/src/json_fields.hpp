// SPDX-License-Identifier: Apache-2.0
// Reading the fields of etcd's answers and of the cluster's own documents.
// Not installed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace cairn::cluster {

/// A whole number written as a number or as a string (etcd writes 64-bit
/// numbers as `"12"`); absent or unreadable: 0.
inline int64_t number_field(const boost::json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  if (!v)
    return 0;
  if (v->is_int64())
    return v->as_int64();
  if (v->is_uint64())
    return static_cast<int64_t>(v->as_uint64());
  if (v->is_string()) {
    try {
      return std::stoll(std::string{v->as_string()});
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

} // namespace cairn::cluster
