// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cairn/schema/options.hpp>
#include <cairn/schema/validation_result.hpp>

#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cairn::schema::internal {

class node;

/// One step of the instance path, linked back to the root. Lives on the stack during evaluation;
/// turned into text only when an error is reported.
struct instance_step {
  const instance_step* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;
};

/// `$`, `$.name`, `$["odd key"]`, `$[2]`.
std::string format_instance_path(const instance_step* step);

/// Which members (of an object) or elements (of an array) of the current instance some keyword
/// evaluated: what `unevaluatedProperties`/`unevaluatedItems` consult. Indexes are positions in
/// the object or array.
class evaluated_set {
public:
  void mark(std::size_t i) {
    if (all_)
      return;
    if (i >= bits_.size())
      bits_.resize(i + 1);
    bits_[i] = true;
  }
  void mark_all() { all_ = true; }
  bool has(std::size_t i) const { return all_ || (i < bits_.size() && bits_[i]); }
  void merge(const evaluated_set& other) {
    if (other.all_)
      all_ = true;
    for (std::size_t i = 0; i < other.bits_.size(); ++i)
      if (other.bits_[i])
        mark(i);
  }

private:
  std::vector<bool> bits_;
  bool all_ = false;
};

/// A schema resource (a document root or a subschema with its own `$id`): the unit of the
/// dynamic scope `$dynamicRef` searches.
struct schema_resource {
  std::string uri;
  /// `$dynamicAnchor` name -> its subschema, filled for the names some `$dynamicRef` uses.
  std::unordered_map<std::string, const node*> dynamic_anchors;
};

/// The state of one `validate`/`is_valid` call. Lives on the caller's stack; never shared.
class eval_context {
public:
  eval_context(const compile_options& options, std::vector<validation_error>* errors,
               bool track_dynamic_scope)
    : errors_(errors), sink_(errors), options_(options), track_dynamic_scope_(track_dynamic_scope) {
  }

  /// True when failures should be described (validate, outside a quiet sub-evaluation).
  bool collecting() const { return errors_ != nullptr; }
  /// True when, after a failure, evaluation need not go on.
  bool stop() const {
    return aborted_ || errors_ == nullptr || errors_->size() >= options_.max_errors;
  }
  bool aborted() const { return aborted_; }
  const compile_options& options() const { return options_; }

  void report(const instance_step* at, const std::string& schema_path, std::string message);
  /// Ends the whole evaluation with an error (depth or budget exceeded), even when quiet.
  void abort(const instance_step* at, const std::string& schema_path, std::string message);

  /// Silences error collection for a sub-evaluation whose failure is not an error by itself
  /// (an `anyOf` branch, `not`, `if`, `contains`).
  class quiet {
  public:
    explicit quiet(eval_context& ctx) : ctx_(ctx), saved_(ctx.errors_) { ctx.errors_ = nullptr; }
    ~quiet() { ctx_.errors_ = saved_; }
    quiet(const quiet&) = delete;
    quiet& operator=(const quiet&) = delete;

  private:
    eval_context& ctx_;
    std::vector<validation_error>* saved_;
  };

private:
  friend class node;
  friend class dynamic_ref_keyword;

  std::vector<validation_error>* errors_;
  std::vector<validation_error>* sink_;
  const compile_options& options_;
  std::size_t depth_ = 0;
  std::size_t evaluations_ = 0;
  bool aborted_ = false;
  bool track_dynamic_scope_;
  std::vector<const schema_resource*> dynamic_scope_;
};

/// One compiled keyword of a schema. Immutable after compilation.
class keyword {
public:
  explicit keyword(std::string schema_path) : schema_path_(std::move(schema_path)) {}
  virtual ~keyword() = default;
  keyword(const keyword&) = delete;
  keyword& operator=(const keyword&) = delete;

  /// Checks `instance`; records evaluated members/elements into `evaluated` when it is not null.
  virtual bool evaluate(const boost::json::value& instance, const instance_step* at,
                        eval_context& ctx, evaluated_set* evaluated) const = 0;

  const std::string& schema_path() const { return schema_path_; }

protected:
  bool fail(eval_context& ctx, const instance_step* at, std::string message) const {
    ctx.report(at, schema_path_, std::move(message));
    return false;
  }

private:
  std::string schema_path_;
};

/// A compiled (sub)schema: its keywords in evaluation order (`unevaluated*` last).
class node {
public:
  bool evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                evaluated_set* evaluated) const;

  std::vector<std::unique_ptr<keyword>> keywords_;
  const schema_resource* resource_ = nullptr;
  std::string schema_path_;
  /// True when a keyword of this node consults the evaluated set (unevaluated*).
  bool needs_evaluated_ = false;
};

/// Everything a validator owns: the nodes, the resources, the options. Immutable once built.
struct compiled_schema {
  std::vector<std::unique_ptr<node>> nodes;
  std::vector<std::unique_ptr<schema_resource>> resources;
  const node* root = nullptr;
  compile_options options;
  bool uses_dynamic_scope = false;
};

} // namespace cairn::schema::internal
