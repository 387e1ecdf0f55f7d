// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "cairn/workflow/plan.hpp"

// A deliberately simple reading of JSON Schemas for reference checks: which subschema describes
// the value at a path, and which JSON types it declares. It follows `properties`,
// `additionalProperties`, `prefixItems`/`items` (and draft-07 array `items`/`additionalItems`)
// and local `$ref`s (`#/...`); anything else (`anyOf`, `allOf`, remote references, ...) is
// "unknown", and an unknown end makes no claim. Pure functions.
namespace cairn::workflow::internal {

/// Where a walk ended: the subschema (null: unknown), or `closed` when an object schema with
/// `additionalProperties: false` has no such property (the path leads nowhere).
struct schema_lookup {
  const boost::json::object* schema = nullptr;
  bool closed = false;
};

/// The subschema of `root` for the value at `path` (argument paths: keys and indices known).
schema_lookup subschema_at(const boost::json::object& root, const std::vector<path_segment>& path);

/// The subschema of `root` for the value at the pointer `tokens` (a token is an index where the
/// schema describes an array and the token is a decimal index).
schema_lookup subschema_at(const boost::json::object& root, const std::vector<std::string>& tokens);

/// The JSON types `schema` declares (`type` as a string or array, else the types of `const` or
/// every `enum` value), after local `$ref`s; empty when it declares none.
std::vector<std::string> declared_types(const boost::json::object& root,
                                        const boost::json::object& schema);

/// The first of `producer` types a consumer declaring `consumer` would refuse (`integer` is
/// accepted where `number` is), or empty when all are accepted.
std::string first_refused(const std::vector<std::string>& consumer,
                          const std::vector<std::string>& producer);

} // namespace cairn::workflow::internal
