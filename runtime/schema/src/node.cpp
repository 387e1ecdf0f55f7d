// SPDX-License-Identifier: Apache-2.0
#include "internal/node.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace cairn::schema::internal {

namespace {

bool is_identifier(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9'))
    return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '$';
    if (!ok)
      return false;
  }
  return true;
}

void append_step(std::string& out, const instance_step* step) {
  if (step == nullptr) {
    out += '$';
    return;
  }
  append_step(out, step->parent);
  if (step->is_index) {
    out += '[';
    out += std::to_string(step->index);
    out += ']';
  } else if (is_identifier(step->key)) {
    out += '.';
    out += step->key;
  } else {
    out += '[';
    out += boost::json::serialize(boost::json::string_view(step->key.data(), step->key.size()));
    out += ']';
  }
}

} // namespace

std::string format_instance_path(const instance_step* step) {
  std::string out;
  append_step(out, step);
  return out;
}

void eval_context::report(const instance_step* at, const std::string& schema_path,
                          std::string message) {
  if (errors_ == nullptr || aborted_ || errors_->size() >= options_.max_errors)
    return;
  errors_->push_back({format_instance_path(at), schema_path, std::move(message)});
}

void eval_context::abort(const instance_step* at, const std::string& schema_path,
                         std::string message) {
  if (aborted_)
    return;
  aborted_ = true;
  if (sink_ == nullptr)
    return;
  if (sink_->size() >= options_.max_errors && !sink_->empty())
    sink_->pop_back();
  sink_->push_back({format_instance_path(at), schema_path, std::move(message)});
}

bool node::evaluate(const boost::json::value& instance, const instance_step* at, eval_context& ctx,
                    evaluated_set* evaluated) const {
  if (keywords_.empty())
    return true;
  if (ctx.aborted_)
    return false;
  const auto& opts = ctx.options_;
  if (opts.max_evaluations != 0 && ++ctx.evaluations_ > opts.max_evaluations) {
    ctx.abort(at, schema_path_,
              "evaluation budget exceeded (" + std::to_string(opts.max_evaluations)
                + " subschema evaluations)");
    return false;
  }
  if (ctx.depth_ >= opts.max_depth) {
    ctx.abort(at, schema_path_,
              "evaluation depth exceeded (" + std::to_string(opts.max_depth)
                + " nested subschemas): the schema recurses without consuming the instance");
    return false;
  }
  ++ctx.depth_;
  bool pushed = false;
  if (ctx.track_dynamic_scope_
      && (ctx.dynamic_scope_.empty() || ctx.dynamic_scope_.back() != resource_)) {
    ctx.dynamic_scope_.push_back(resource_);
    pushed = true;
  }
  evaluated_set local;
  evaluated_set* use = evaluated;
  if (needs_evaluated_ && use == nullptr)
    use = &local;
  bool ok = true;
  for (const auto& k : keywords_) {
    if (!k->evaluate(instance, at, ctx, use)) {
      ok = false;
      if (ctx.stop())
        break;
    }
  }
  if (pushed)
    ctx.dynamic_scope_.pop_back();
  --ctx.depth_;
  return ok;
}

} // namespace cairn::schema::internal
