// SPDX-License-Identifier: Apache-2.0
#include "list_merge.hpp"

#include <algorithm>
#include <optional>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"

namespace cairn::cluster {

namespace json = boost::json;

namespace {

enum class order {
  id_cursor, ///< ascending `id`, `next_cursor`
  newest,    ///< `submitted_ms` then `id`, descending
  pending,   ///< pending approvals first, then the rest; newest plan first
  due,       ///< ascending `due_ms`
};

struct list_kind {
  const char* path;
  const char* field;
  order how;
  size_t default_limit;
};

constexpr list_kind lists[] = {
  {"/api/v1/actors", "actors", order::id_cursor, 100},
  {"/api/v1/dead-letters", "dead_letters", order::id_cursor, 100},
  {"/api/v1/plans", "plans", order::newest, 50},
  {"/api/v1/approvals", "approvals", order::pending, 50},
  {"/api/v1/timers", "timers", order::due, 100},
};

const list_kind* kind_of_path(const std::string& path) {
  for (const auto& l : lists)
    if (path == l.path)
      return &l;
  return nullptr;
}

std::string text(const json::value& row, const char* key) {
  auto* v = row.is_object() ? row.as_object().if_contains(key) : nullptr;
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

int64_t number(const json::value& row, const char* key) {
  auto* v = row.is_object() ? row.as_object().if_contains(key) : nullptr;
  if (v && v->is_int64())
    return v->as_int64();
  if (v && v->is_uint64())
    return static_cast<int64_t>(v->as_uint64());
  return 0;
}

/// The `name` parameter of the query in `target`, decoded ("" if absent).
std::string query_value(const std::string& target, const std::string& name) {
  auto q = target.find('?');
  if (q == std::string::npos)
    return {};
  auto rest = target.substr(q + 1);
  size_t at = 0;
  while (at <= rest.size()) {
    auto end = rest.find('&', at);
    auto pair = rest.substr(at, end == std::string::npos ? std::string::npos : end - at);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string::npos)
      return percent_decode(pair.substr(eq + 1)).value_or(std::string{});
    if (end == std::string::npos)
      break;
    at = end + 1;
  }
  return {};
}

} // namespace

bool merged_list(const std::string& path) {
  return kind_of_path(path) != nullptr;
}

std::string merge_pages(const std::string& target, const std::vector<member_page>& pages,
                        const std::vector<std::string>& missing) {
  const auto* kind = kind_of_path(target.substr(0, target.find('?')));
  if (!kind || pages.empty())
    return {};
  size_t limit = kind->default_limit;
  if (auto l = query_value(target, "limit"); !l.empty())
    try {
      limit = std::max<size_t>(1, std::stoul(l));
    } catch (const std::exception&) {
    }
  json::object out;
  std::vector<json::value> rows;
  std::optional<std::string> resume; // the smallest point a member resumes from
  uint64_t examined = 0;
  bool any_examined = false;
  for (const auto& p : pages) {
    boost::system::error_code ec;
    auto v = json::parse(p.body, ec);
    if (ec || !v.is_object())
      return {};
    auto& o = v.as_object();
    auto* arr = o.if_contains(kind->field);
    if (!arr || !arr->is_array())
      return {};
    if (out.empty())
      out = o; // the first (this node's) page keeps its other fields
    for (auto& r : arr->as_array())
      rows.push_back(r);
    if (kind->how == order::id_cursor)
      if (auto* c = o.if_contains("next_cursor"); c && c->is_string()) {
        std::string cur{c->as_string()};
        if (!resume || cur < *resume)
          resume = cur;
      }
    if (auto* e = o.if_contains("examined"); e && e->is_number()) {
      examined += e->to_number<uint64_t>();
      any_examined = true;
    }
  }
  auto before = [&](const json::value& a, const json::value& b) {
    switch (kind->how) {
      case order::id_cursor: return text(a, "id") < text(b, "id");
      case order::newest: {
        auto ta = number(a, "submitted_ms"), tb = number(b, "submitted_ms");
        return ta != tb ? ta > tb : text(a, "id") > text(b, "id");
      }
      case order::pending: {
        bool pa = text(a, "state") == "pending", pb = text(b, "state") == "pending";
        if (pa != pb)
          return pa;
        return text(a, "plan") != text(b, "plan") ? text(a, "plan") > text(b, "plan")
                                                  : text(a, "id") < text(b, "id");
      }
      case order::due: return number(a, "due_ms") < number(b, "due_ms");
    }
    return false;
  };
  std::stable_sort(rows.begin(), rows.end(), before);
  json::array merged;
  if (kind->how == order::id_cursor) {
    // A member with more resumes after its cursor: rows past the smallest
    // such point wait for the next page, where that member shows what lies
    // between.
    for (auto& r : rows) {
      if (resume && text(r, "id") > *resume)
        break;
      if (merged.size() == limit) {
        resume = text(merged.back(), "id");
        break;
      }
      merged.push_back(std::move(r));
    }
    out["next_cursor"] = resume ? json::value(*resume) : json::value(nullptr);
  } else {
    for (auto& r : rows)
      if (merged.size() < limit)
        merged.push_back(std::move(r));
  }
  out[kind->field] = std::move(merged);
  if (any_examined)
    out["examined"] = examined;
  json::array gone;
  for (const auto& m : missing)
    gone.push_back(json::value(m));
  out["missing"] = std::move(gone);
  return json::serialize(out);
}

} // namespace cairn::cluster
