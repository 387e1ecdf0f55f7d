// SPDX-License-Identifier: Apache-2.0
#include "cairn/workflow/plan.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <ctime>

namespace cairn::workflow {

namespace json = boost::json;

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

std::string kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "value";
}

// Collects the problems of one parse, each at a path of the document.
struct problem_sink {
  std::vector<plan_problem>& out;

  void add(std::string step, std::string path, std::string code, std::string message) {
    out.push_back({std::move(step), std::move(path), std::move(code), std::move(message)});
  }
};

// Finds the references in `v` (at `at` inside the arguments of step `step`) and reports
// malformed ones; never descends into a reference object.
void collect_references(const json::value& v, std::vector<path_segment>& at, plan_step& step,
                        const std::string& args_path, problem_sink& sink) {
  if (const auto* obj = v.if_object()) {
    if (obj->contains("$from")) {
      const auto* from = obj->at("$from").if_string();
      const auto* ptr = obj->contains("pointer") ? obj->at("pointer").if_string() : nullptr;
      bool extra = false;
      for (const auto& kv : *obj)
        if (kv.key() != "$from" && kv.key() != "pointer")
          extra = true;
      auto path = format_path(args_path, at);
      if (!from || !ptr || extra) {
        sink.add(step.id, path, "bad_reference",
                 "a reference must be exactly {\"$from\": STEP_ID, \"pointer\": JSON_POINTER}");
        return;
      }
      step.references.push_back({at, std::string(*from), std::string(*ptr)});
      return;
    }
    for (const auto& kv : *obj) {
      at.push_back({std::string(kv.key()), 0, false});
      collect_references(kv.value(), at, step, args_path, sink);
      at.pop_back();
    }
  } else if (const auto* arr = v.if_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      at.push_back({{}, i, true});
      collect_references((*arr)[i], at, step, args_path, sink);
      at.pop_back();
    }
  }
}

plan_step parse_step(const json::value& v, std::size_t index, problem_sink& sink) {
  plan_step step;
  step.index = index;
  auto path = "$.steps[" + std::to_string(index) + "]";
  const auto* obj = v.if_object();
  if (!obj) {
    sink.add({}, path, "malformed", "a step must be an object, not " + kind_of(v));
    return step;
  }
  if (const auto* id = obj->if_contains("id")) {
    if (const auto* s = id->if_string())
      step.id = std::string(*s);
    else
      sink.add({}, path + ".id", "malformed", "id must be a string, not " + kind_of(*id));
  } else {
    sink.add({}, path, "malformed", "a step needs an id");
  }
  if (!step.id.empty() && !valid_step_id(step.id))
    sink.add(step.id, path + ".id", "bad_id",
             "step id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -");
  if (const auto* tool = obj->if_contains("tool")) {
    if (const auto* s = tool->if_string(); s && !s->empty())
      step.tool = std::string(*s);
    else
      sink.add(step.id, path + ".tool", "malformed", "tool must be a non-empty string");
  } else {
    sink.add(step.id, path, "malformed", "a step needs a tool");
  }
  if (const auto* args = obj->if_contains("arguments")) {
    if (const auto* o = args->if_object()) {
      step.arguments = *o;
      std::vector<path_segment> at;
      collect_references(*args, at, step, path + ".arguments", sink);
    } else {
      sink.add(step.id, path + ".arguments", "malformed",
               "arguments must be an object, not " + kind_of(*args));
    }
  }
  if (const auto* after = obj->if_contains("after")) {
    if (const auto* arr = after->if_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        auto at = path + ".after[" + std::to_string(i) + "]";
        const auto* s = (*arr)[i].if_string();
        if (!s) {
          sink.add(step.id, at, "malformed", "after must list step ids (strings)");
          continue;
        }
        std::string dep(*s);
        bool seen = false;
        for (const auto& d : step.after)
          seen = seen || d == dep;
        if (seen)
          sink.add(step.id, at, "malformed", "step " + dep + " is listed twice in after");
        else if (!step.id.empty() && dep == step.id)
          sink.add(step.id, at, "cycle", "cycle: step " + dep + " waits for itself");
        else
          step.after.push_back(std::move(dep));
      }
    } else {
      sink.add(step.id, path + ".after", "malformed",
               "after must be an array, not " + kind_of(*after));
    }
  }
  for (const auto& kv : *obj) {
    auto k = kv.key();
    if (k != "id" && k != "tool" && k != "arguments" && k != "after")
      sink.add(step.id, format_path(path, {{std::string(k), 0, false}}), "malformed",
               "unknown step field " + std::string(k));
  }
  return step;
}

} // namespace

std::string plan_problem::to_string() const {
  std::string out = path;
  if (!step.empty())
    out += " [" + step + "]";
  return out + ": " + code + ": " + message;
}

std::string format_path(std::string prefix, const std::vector<path_segment>& segments) {
  for (const auto& s : segments) {
    if (s.is_index) {
      prefix += '[' + std::to_string(s.index) + ']';
    } else if (is_identifier(s.key)) {
      prefix += '.' + s.key;
    } else {
      prefix += '[';
      prefix += json::serialize(json::string_view(s.key.data(), s.key.size()));
      prefix += ']';
    }
  }
  return prefix;
}

bool valid_step_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty())
    return tokens;
  if (pointer[0] != '/')
    return std::nullopt;
  std::string token;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))
        return std::nullopt;
      token += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      token += c;
    }
  }
  return tokens;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
  auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
    if (pos + n > t.size())
      return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9')
        return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  auto at = [&](std::size_t pos, char c) { return pos < t.size() && t[pos] == c; };
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2),
       s = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || !at(4, '-') || !at(7, '-')
      || !(at(10, 'T') || at(10, 't')) || !at(13, ':') || !at(16, ':'))
    return std::nullopt;
  static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > month_days[*mo - 1] || *h > 23 || *mi > 59 || *s > 60)
    return std::nullopt;
  bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
  if (*mo == 2 && *d == 29 && !leap)
    return std::nullopt;
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (at(pos, '.')) {
    ++pos;
    std::size_t start = pos;
    long long scale = 100'000'000;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      fraction += std::chrono::nanoseconds((t[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start)
      return std::nullopt;
  }
  int offset_minutes = 0;
  if (at(pos, 'Z') || at(pos, 'z')) {
    ++pos;
  } else if (at(pos, '+') || at(pos, '-')) {
    auto oh = digits(pos + 1, 2), om = digits(pos + 4, 2);
    if (!oh || !om || !at(pos + 3, ':') || *oh > 23 || *om > 59)
      return std::nullopt;
    offset_minutes = (*oh * 60 + *om) * (t[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size())
    return std::nullopt;
  // Days from the civil date (Howard Hinnant's algorithm), so no time zone database is needed.
  int yy = *y - (*mo <= 2 ? 1 : 0);
  int era = (yy >= 0 ? yy : yy - 399) / 400;
  int yoe = yy - era * 400;
  int doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  long long days = static_cast<long long>(era) * 146097 + doe - 719468;
  long long secs = days * 86400 + *h * 3600 + *mi * 60 + std::min(*s, 59) - offset_minutes * 60;
  // The clock counts nanoseconds in 64 bits (years 1678 to 2262): a time beyond saturates
  // instead of wrapping, so "year 9999" is far in the future, not in the past.
  using clock_time = std::chrono::system_clock::time_point;
  constexpr auto limit =
    std::chrono::duration_cast<std::chrono::seconds>(clock_time::duration::max()).count() - 1;
  if (secs >= limit)
    return clock_time::max();
  if (secs <= -limit)
    return clock_time::min();
  return clock_time(
    std::chrono::duration_cast<clock_time::duration>(std::chrono::seconds(secs) + fraction));
}

plan_parse_result parse_plan(const json::value& document) {
  plan_parse_result result;
  problem_sink sink{result.problems};
  const auto* obj = document.if_object();
  if (!obj) {
    sink.add({}, "$", "malformed", "a plan must be an object, not " + kind_of(document));
    return result;
  }
  if (const auto* steps = obj->if_contains("steps")) {
    if (const auto* arr = steps->if_array()) {
      if (arr->empty())
        sink.add({}, "$.steps", "malformed", "a plan needs at least one step");
      for (std::size_t i = 0; i < arr->size(); ++i)
        result.value.steps.push_back(parse_step((*arr)[i], i, sink));
    } else {
      sink.add({}, "$.steps", "malformed", "steps must be an array, not " + kind_of(*steps));
    }
  } else {
    sink.add({}, "$", "malformed", "a plan needs steps");
  }
  if (const auto* key = obj->if_contains("idempotency_key")) {
    const auto* s = key->if_string();
    bool ok = s && !s->empty() && s->size() <= 200;
    if (ok)
      for (char c : *s)
        ok = ok && c >= 0x20 && c < 0x7f;
    if (ok)
      result.value.idempotency_key = std::string(*s);
    else
      sink.add({}, "$.idempotency_key", "malformed",
               "idempotency_key must be 1 to 200 printable ASCII characters");
  }
  if (const auto* deadline = obj->if_contains("deadline")) {
    const auto* s = deadline->if_string();
    auto tp = s ? parse_rfc3339(*s) : std::nullopt;
    if (tp)
      result.value.deadline = *tp;
    else
      sink.add({}, "$.deadline", "deadline",
               "deadline must be an RFC 3339 date-time such as 2026-12-01T21:00:00Z");
  }
  if (const auto* budget = obj->if_contains("budget")) {
    const auto* b = budget->if_object();
    if (!b) {
      sink.add({}, "$.budget", "malformed", "budget must be an object {\"cost_units\": N}");
    } else {
      for (const auto& kv : *b) {
        if (kv.key() != "cost_units") {
          sink.add({}, format_path("$.budget", {{std::string(kv.key()), 0, false}}), "malformed",
                   "unknown budget field " + std::string(kv.key()));
          continue;
        }
        const auto& v = kv.value();
        if (v.is_uint64())
          result.value.budget_cost_units = v.get_uint64();
        else if (v.is_int64() && v.get_int64() >= 0)
          result.value.budget_cost_units = static_cast<std::uint64_t>(v.get_int64());
        else
          sink.add({}, "$.budget.cost_units", "malformed",
                   "cost_units must be a non-negative integer");
      }
    }
  }
  for (const auto& kv : *obj) {
    auto k = kv.key();
    if (k != "steps" && k != "idempotency_key" && k != "deadline" && k != "budget")
      sink.add({}, format_path("$", {{std::string(k), 0, false}}), "malformed",
               "unknown plan field " + std::string(k));
  }
  return result;
}

} // namespace cairn::workflow
