// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>

namespace cairn::schema {

/// The JSON Schema dialects the validator understands. A schema's `$schema` selects one; a schema
/// without `$schema` uses `compile_options::default_dialect`.
enum class dialect {
  draft2020_12, ///< https://json-schema.org/draft/2020-12/schema
  draft07,      ///< http://json-schema.org/draft-07/schema#
};

/// What `validator::compile` should do with a schema: a plain value, copy it freely, any thread.
struct compile_options {
  /// Dialect of a schema (and of referenced documents) that does not name one with `$schema`.
  dialect default_dialect = dialect::draft2020_12;
  /// When true, `format` is an assertion (an unknown format still passes); when false, it is an
  /// annotation as the specifications say by default. A metaschema that lists the
  /// format-assertion vocabulary turns it on for its schemas either way.
  bool format_assertion = false;
  /// `validate` stops after this many errors (at least one is always reported).
  std::size_t max_errors = 10;
  /// Nesting bound of schema evaluation (each subschema or reference applied counts one). A
  /// schema that recurses without consuming the instance fails with an error at this depth
  /// instead of overflowing the stack.
  std::size_t max_depth = 256;
  /// Bound on the subschema evaluations of one `validate`/`is_valid` call (0: no bound). It
  /// guards against schemas whose cost is exponential in their size (nested `anyOf`s of
  /// references); an instance that needs more fails with an error saying so.
  std::size_t max_evaluations = 10'000'000;
  /// Strings longer than this (in code points) are not matched against `pattern` and
  /// `patternProperties`; they fail with an error instead (regex matching is superlinear).
  std::size_t max_pattern_input = 100'000;
};

} // namespace cairn::schema
