// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "internal/node.hpp"

#include <cairn/schema/options.hpp>
#include <cairn/schema/registry.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::schema::internal {

/// Thrown inside the compiler to refuse a schema; `validator::compile` turns it into a
/// `compile_error` (no exception leaves the library).
struct compile_failure {
  std::string path;
  std::string message;
};

/// Vocabularies a schema resource uses (2020-12 `$vocabulary`; draft-07 uses all of its own).
enum vocabulary : unsigned {
  vocab_core = 1,
  vocab_applicator = 2,
  vocab_unevaluated = 4,
  vocab_validation = 8,
  vocab_meta_data = 16,
  vocab_format_annotation = 32,
  vocab_format_assertion = 64,
  vocab_content = 128,
  vocab_all_2020_12 = 255 & ~vocab_format_assertion,
};

/// A place in a document: which document, and a JSON pointer into it.
struct location {
  std::size_t doc = 0;
  std::string pointer;
  auto operator<=>(const location&) const = default;
};

/// What indexing learned about a schema location.
struct schema_context {
  std::string base_uri;
  dialect dia = dialect::draft2020_12;
  unsigned vocabularies = vocab_all_2020_12;
  schema_resource* resource = nullptr;
};

class compiler;

/// The view of one schema object the keyword factories work with: its keywords, paths for
/// errors, and access to subschemas (compiled lazily, by pointer, so cycles are fine).
class node_builder {
public:
  node_builder(compiler& c, const location& loc, const boost::json::object& schema,
               const schema_context& ctx, node& target)
    : c_(c), loc_(loc), schema_(schema), ctx_(ctx), target_(target) {}

  bool draft7() const { return ctx_.dia == dialect::draft07; }
  bool vocab(unsigned v) const { return (ctx_.vocabularies & v) != 0; }
  const schema_context& context() const { return ctx_; }
  const compile_options& options() const;

  const boost::json::value* find(std::string_view keyword) const;
  /// Schema path of `keyword` (and of `token` inside it), for messages.
  std::string path(std::string_view keyword) const;
  std::string path(std::string_view keyword, std::string_view token) const;

  /// The compiled subschema at `keyword` (or at `keyword/token`).
  const node* subschema(std::string_view keyword) const;
  const node* subschema(std::string_view keyword, std::string_view token) const;
  /// The node a `$ref`-like `reference` found in `keyword` points at.
  const node* resolve(std::string_view keyword, std::string_view reference) const;
  /// Notes that a `$dynamicRef` uses the anchor `name`.
  void uses_dynamic_anchor(const std::string& name) const;
  /// The subschema a reference resolves to carries `$dynamicAnchor: name`.
  bool target_has_dynamic_anchor(std::string_view reference, const std::string& name) const;

  [[noreturn]] void refuse(std::string_view keyword, std::string message) const;

  // Typed accessors that refuse malformed values with the keyword's path.
  std::size_t non_negative_integer(std::string_view keyword) const;
  const boost::json::value& number(std::string_view keyword) const;
  const boost::json::string& string(std::string_view keyword) const;
  void expect_schema(std::string_view keyword, const boost::json::value& v,
                     std::string_view token = {}) const;

  void add(std::unique_ptr<keyword> k) { target_.keywords_.push_back(std::move(k)); }
  void needs_evaluated() { target_.needs_evaluated_ = true; }

private:
  compiler& c_;
  const location& loc_;
  const boost::json::object& schema_;
  const schema_context& ctx_;
  node& target_;
};

/// Compiles a root schema and everything it references into a `compiled_schema`. Single use,
/// single thread; throws `compile_failure`.
class compiler {
public:
  compiler(const compile_options& options, const registry* known);
  std::shared_ptr<compiled_schema> run(const boost::json::value& root);

  // For node_builder.
  const compile_options& options() const { return out_->options; }
  std::string path_of(const location& loc) const;
  const node* schedule(const location& loc);
  location resolve(const location& from, const schema_context& ctx, std::string_view reference,
                   const std::string& error_path);
  const boost::json::value* value_at(const location& loc) const;
  void note_dynamic_name(const std::string& name) { dynamic_names_.insert(name); }
  std::string dynamic_anchor_at(const location& loc) const;

private:
  struct document {
    const boost::json::value* root;
    std::string label; // "" for the compiled schema, else its URI
  };
  struct dialect_info {
    dialect dia;
    unsigned vocabularies;
  };

  dialect_info metaschema(const std::string& uri, const std::string& error_path, int depth);
  std::size_t add_document(const boost::json::value* root, const std::string& uri,
                           dialect fallback);
  void index(std::size_t doc, const boost::json::value& v, const std::string& pointer,
             schema_context ctx, bool resource_root);
  std::optional<location> find_resource(const std::string& uri, dialect fallback);
  const schema_context& context_of(const location& loc) const;
  void compile_node(node& n, const location& loc);
  void link_dynamic_anchors();

  const registry* known_;
  std::shared_ptr<compiled_schema> out_;
  std::vector<document> documents_;
  std::map<std::string, location> resources_;
  std::map<std::string, location> anchors_;
  std::map<location, schema_context> contexts_;
  std::map<location, std::string> dynamic_anchor_names_;
  std::map<const schema_resource*, std::map<std::string, location>> dynamic_anchor_locations_;
  std::map<location, node*> nodes_;
  std::deque<std::pair<node*, location>> pending_;
  std::set<std::string> dynamic_names_;
};

// The keyword factories, one per family; each adds the keywords of its family found in `b`.
void add_reference_keywords(node_builder& b);
void add_applicator_keywords(node_builder& b);
void add_value_keywords(node_builder& b);
void add_object_keywords(node_builder& b);
void add_array_keywords(node_builder& b);
void add_unevaluated_keywords(node_builder& b);
/// `false` as a schema.
std::unique_ptr<keyword> make_false_keyword(std::string schema_path);

} // namespace cairn::schema::internal
