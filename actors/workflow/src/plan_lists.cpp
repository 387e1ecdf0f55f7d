// SPDX-License-Identifier: Apache-2.0
// Lists of plans and approvals: an index of plan summaries (reported by the
// plan actors after their commits, filled from storage once) so a list reads
// only the plans it shows.
#include <algorithm>
#include <functional>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

engine::impl::plan_summary engine::impl::summary_of(const json::object& plan) {
  plan_summary s;
  s.state = member_string(plan, "state");
  if (auto v = plan.if_contains("submitted_ms"); v && v->is_int64())
    s.submitted_ms = v->as_int64();
  if (auto v = plan.if_contains("version"); v && v->is_int64())
    s.version = static_cast<uint64_t>(v->as_int64());
  if (auto steps = plan.if_contains("steps"); steps && steps->is_object())
    for (const auto& [id, sv] : steps->as_object())
      if (sv.is_object() && member_string(sv.as_object(), "state") == "awaiting_approval")
        s.pending_approval = true;
  return s;
}

void engine::impl::note(const std::string& id, plan_summary s) {
  std::lock_guard lock{index_mu};
  auto& slot = index[id];
  if (s.version >= slot.version)
    slot = std::move(s);
}

caf::error engine::impl::ensure_index() {
  if (indexed.load())
    return {};
  std::lock_guard scan{scan_mu};
  if (indexed.load())
    return {};
  std::string after;
  for (;;) {
    auto ids = rt.actor_ids("plan", after, 1000);
    if (!ids)
      return std::move(ids.error());
    for (const auto& id : *ids)
      if (auto p = read_plan(id); p && p->size() > 2)
        note(id, summary_of(*p));
    if (ids->size() < 1000)
      break;
    after = ids->back();
  }
  indexed.store(true);
  return {};
}

namespace {

/// Plan ids from the index for which `keep` holds, newest first.
std::vector<std::string>
newest_first(engine::impl& d, const std::function<bool(const engine::impl::plan_summary&)>& keep) {
  std::vector<std::pair<int64_t, std::string>> found;
  {
    std::lock_guard lock{d.index_mu};
    for (const auto& [id, s] : d.index)
      if (keep(s))
        found.emplace_back(s.submitted_ms, id);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& f : found)
    out.push_back(std::move(f.second));
  return out;
}

} // namespace

caf::expected<json::array> engine::plans(const std::string& status, int64_t since_ms,
                                         size_t limit) {
  auto& d = *impl_;
  if (auto err = d.ensure_index())
    return err;
  auto ids = newest_first(d, [&](const impl::plan_summary& s) {
    return (status.empty() || s.state == status) && (since_ms <= 0 || s.submitted_ms >= since_ms);
  });
  json::array out;
  for (const auto& id : ids) {
    if (out.size() >= limit)
      break;
    if (auto p = d.read_plan(id))
      out.push_back(std::move(*p));
  }
  return out;
}

namespace {

/// The approvals of one plan, as the API shows them.
void collect_approvals(const json::object& plan, json::array& out) {
  auto steps = plan.if_contains("steps");
  if (!steps || !steps->is_object())
    return;
  for (const auto& [id, sv] : steps->as_object()) {
    if (!sv.is_object())
      continue;
    auto a = sv.as_object().if_contains("approval");
    if (!a || !a->is_object())
      continue;
    json::object o = a->as_object();
    o["id"] = member_string(plan, "id") + "/" + std::string{id};
    o["plan"] = member_string(plan, "id");
    o["step"] = id;
    o["tool"] = sv.as_object().at("tool");
    o["risk"] = sv.as_object().at("risk");
    if (auto ra = sv.as_object().if_contains("resolved_arguments"))
      o["arguments"] = *ra;
    o["plan_state"] = member_string(plan, "state");
    out.push_back(std::move(o));
  }
}

} // namespace

caf::expected<json::array> engine::approvals(size_t limit) {
  auto& d = *impl_;
  if (auto err = d.ensure_index())
    return err;
  json::array pending, decided;
  // Pending ones: every plan waiting for one. Then decided ones, from the
  // newest plans (at most 500 read).
  for (const auto& id :
       newest_first(d, [](const impl::plan_summary& s) { return s.pending_approval; })) {
    if (pending.size() >= limit)
      break;
    if (auto p = d.read_plan(id)) {
      json::array mine;
      collect_approvals(*p, mine);
      for (auto& a : mine)
        (member_string(a.as_object(), "state") == "pending" ? pending : decided)
          .push_back(std::move(a));
    }
  }
  size_t read = 0;
  for (const auto& id :
       newest_first(d, [](const impl::plan_summary& s) { return !s.pending_approval; })) {
    if (pending.size() + decided.size() >= limit || ++read > 500)
      break;
    if (auto p = d.read_plan(id)) {
      json::array mine;
      collect_approvals(*p, mine);
      for (auto& a : mine)
        decided.push_back(std::move(a));
    }
  }
  json::array out;
  for (auto* list : {&pending, &decided})
    for (auto& a : *list)
      if (out.size() < limit)
        out.push_back(std::move(a));
  return out;
}

namespace {

/// Splits `plan/<key>/<step>` into plan id and step id.
bool split_approval(const std::string& id, std::string& plan, std::string& step) {
  auto slash = id.rfind('/');
  if (id.rfind("plan/", 0) != 0 || slash == std::string::npos || slash <= 5)
    return false;
  plan = id.substr(0, slash);
  step = id.substr(slash + 1);
  return !step.empty();
}

} // namespace

caf::expected<json::object> engine::approval(const std::string& id) {
  std::string plan_id, step;
  if (!split_approval(id, plan_id, step))
    return make_error(errc::not_found, "no approval " + id + " (ids are plan/<key>/<step>)");
  auto p = impl_->read_plan(plan_id);
  if (!p)
    return make_error(errc::not_found, "no approval " + id);
  json::array mine;
  collect_approvals(*p, mine);
  for (auto& a : mine)
    if (member_string(a.as_object(), "step") == step)
      return std::move(a.as_object());
  return make_error(errc::not_found, "no approval " + id);
}

} // namespace cairn::workflow
