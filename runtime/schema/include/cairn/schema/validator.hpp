// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cairn/schema/compile_error.hpp>
#include <cairn/schema/options.hpp>
#include <cairn/schema/registry.hpp>
#include <cairn/schema/validation_result.hpp>

#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace cairn::schema {

namespace internal {
struct compiled_schema;
} // namespace internal

class compile_result;

/// A JSON Schema (2020-12 or draft-07) compiled once into a tree of keyword checks; validating
/// an instance walks that tree, never the schema's JSON.
///
/// Thread contract: immutable after `compile`; any number of threads may call `validate` and
/// `is_valid` on the same validator concurrently. Copies share the compiled tree.
class validator {
public:
  /// Compiles `schema`. Remote references resolve only against `known` and the built-in
  /// metaschemas. Never throws: a schema that cannot be honoured exactly (unknown `$schema`,
  /// malformed keyword, unresolvable reference, unsupported regular expression) yields a
  /// `compile_error` naming the JSON path in the schema.
  static compile_result compile(const boost::json::value& schema,
                                const compile_options& options = {});
  /// Compiles `schema` as above; its remote references may also name documents of `known`.
  static compile_result compile(const boost::json::value& schema, const compile_options& options,
                                const registry& known);

  /// Checks `instance` and reports up to `max_errors` errors with instance and schema paths.
  validation_result validate(const boost::json::value& instance) const;

  /// Fast path: stops at the first failure and builds no messages.
  bool is_valid(const boost::json::value& instance) const;

private:
  explicit validator(std::shared_ptr<const internal::compiled_schema> impl)
    : impl_(std::move(impl)) {}
  friend class compile_result;
  friend struct internal::compiled_schema;

  std::shared_ptr<const internal::compiled_schema> impl_;
};

/// The outcome of `validator::compile`: a validator, or the `compile_error` that refused the
/// schema (an `expected`-like value). A plain value; any thread.
class compile_result {
public:
  /// A success holding `v`.
  compile_result(validator v) : value_(std::move(v)) {}
  /// A failure holding `e`.
  compile_result(compile_error e) : error_(std::move(e)) {}

  /// True if the schema compiled (a validator is held).
  bool has_value() const { return value_.has_value(); }
  /// Same as `has_value()`.
  explicit operator bool() const { return has_value(); }

  /// Precondition: `has_value()`.
  const validator& value() const& { return *value_; }
  /// Moves the validator out. Precondition: `has_value()`.
  validator&& value() && { return std::move(*value_); }
  /// The validator. Precondition: `has_value()`.
  const validator& operator*() const& { return *value_; }
  /// Member access to the validator. Precondition: `has_value()`.
  const validator* operator->() const { return &*value_; }

  /// Precondition: `!has_value()`.
  const compile_error& error() const { return error_; }

private:
  std::optional<validator> value_;
  compile_error error_;
};

} // namespace cairn::schema
