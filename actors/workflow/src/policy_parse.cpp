// SPDX-License-Identifier: Apache-2.0
// Reading the `policies` config into a policy_set: every problem reported with the rule and field
// it concerns, `when` schemas compiled once here.
#include "cairn/workflow/policy.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include <cairn/schema/validator.hpp>

namespace cairn::workflow {

namespace json = boost::json;

namespace {

std::optional<verdict> parse_verdict(const json::value& v) {
  if (!v.is_string())
    return std::nullopt;
  const auto& s = v.get_string();
  if (s == "allow")
    return verdict::allow;
  if (s == "approve")
    return verdict::approve;
  if (s == "deny")
    return verdict::deny;
  return std::nullopt;
}

std::optional<risk_level> parse_risk(const json::value& v) {
  if (!v.is_string())
    return std::nullopt;
  const auto& s = v.get_string();
  if (s == "low")
    return risk_level::low;
  if (s == "medium")
    return risk_level::medium;
  if (s == "high")
    return risk_level::high;
  return std::nullopt;
}

bool valid_rule_name(const json::string& s) {
  if (s.empty() || s.size() > 64)
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Reads one rule at `where` (`policies[2]`), adding an error per problem to `errors`.
class rule_reader {
public:
  rule_reader(std::string where, std::vector<std::string>& errors)
    : where_(std::move(where)), errors_(errors) {}

  void read(const json::object& obj, policy_rule& rule) {
    if (auto* n = obj.if_contains("name"); n && n->is_string() && valid_rule_name(n->get_string()))
      label_ = " (rule " + std::string(n->get_string()) + ")";
    for (const auto& kv : obj) {
      const auto& v = kv.value();
      auto key = std::string(kv.key());
      if (key == "name") {
        if (!v.is_string() || !valid_rule_name(v.get_string()))
          add(key, "must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -");
        else
          rule.name = v.get_string();
      } else if (key == "tools" || key == "callers") {
        auto globs = read_globs(key, v);
        (key == "tools" ? rule.tools : rule.callers) = std::move(globs);
      } else if (key == "when") {
        read_when(v, rule);
      } else if (key == "verdict") {
        verdict_ok_ = parse_verdict(v).has_value();
        if (verdict_ok_)
          rule.v = *parse_verdict(v);
        else
          add(key, "must be allow, approve or deny");
      } else if (key == "reason") {
        if (v.is_string())
          rule.reason = v.get_string();
        else
          add(key, "must be a string");
      } else if (key == "approver") {
        if (v.is_string() && (v.get_string() == "operator" || v.get_string() == "client"))
          rule.approver = v.get_string();
        else
          add(key, "must be operator or client");
      } else if (key == "expires") {
        auto d = v.is_string() ? parse_iso8601_duration(std::string(v.get_string())) : std::nullopt;
        if (d && d->count() > 0)
          rule.expires = *d;
        else
          add(key, "must be a positive ISO 8601 duration such as PT24H, PT30M, P2D or P1DT12H");
      } else if (key == "risk") {
        if (auto r = parse_risk(v))
          rule.risk = *r;
        else
          add(key, "must be low, medium or high");
      } else {
        add(key, "unknown key (expected name, tools, callers, when, verdict, reason, approver, "
                 "expires or risk)");
      }
    }
    if (!obj.contains("name"))
      add("name", "is required");
    if (!obj.contains("verdict"))
      add("verdict", "is required");
    if (!verdict_ok_) // missing or malformed: reported; approver and expires cannot be judged
      return;
    if (rule.v == verdict::approve) {
      if (rule.approver.empty())
        rule.approver = "operator";
      if (rule.expires.count() == 0)
        rule.expires = std::chrono::hours(24);
    } else {
      for (const char* only : {"approver", "expires"})
        if (obj.contains(only))
          add(only, "only applies to a rule whose verdict is approve");
    }
  }

  std::shared_ptr<const schema::validator> compiled_when;

private:
  void add(const std::string& field, const std::string& message) {
    errors_.push_back(where_ + "." + field + label_ + ": " + message);
  }

  std::vector<std::string> read_globs(const std::string& key, const json::value& v) {
    std::vector<std::string> out;
    bool ok = v.is_array() && !v.get_array().empty();
    for (std::size_t i = 0; ok && i < v.get_array().size(); ++i) {
      const auto& g = v.get_array()[i];
      ok = g.is_string() && !g.get_string().empty();
      if (ok)
        out.emplace_back(g.get_string());
    }
    if (!ok)
      add(key, "must be a non-empty array of non-empty glob strings");
    return out;
  }

  void read_when(const json::value& v, policy_rule& rule) {
    if (!v.is_object()) {
      add("when", "must be a JSON Schema object");
      return;
    }
    auto compiled = schema::validator::compile(v);
    if (!compiled) {
      add("when", "invalid JSON Schema: " + compiled.error().to_string());
      return;
    }
    rule.when = v.get_object();
    compiled_when = std::make_shared<const schema::validator>(std::move(compiled).value());
  }

  std::string where_;
  std::string label_;
  bool verdict_ok_ = false;
  std::vector<std::string>& errors_;
};

void read_defaults(const json::value& v, policy_defaults& out, std::vector<std::string>& errors) {
  const std::string where = "policies.defaults";
  if (!v.is_object()) {
    errors.push_back(where + ": must be an object mapping low, medium and high to a verdict");
    return;
  }
  for (const auto& kv : v.get_object()) {
    auto key = std::string(kv.key());
    verdict* slot = key == "low"      ? &out.low
                    : key == "medium" ? &out.medium
                    : key == "high"   ? &out.high
                                      : nullptr;
    if (!slot)
      errors.push_back(where + "." + key + ": unknown key (expected low, medium or high)");
    else if (auto x = parse_verdict(kv.value()))
      *slot = *x;
    else
      errors.push_back(where + "." + key + ": must be allow, approve or deny");
  }
}

} // namespace

policy_parse_result parse_policies(const json::value& config) {
  policy_parse_result result;
  auto& errors = result.errors;
  policy_set set;
  const json::array* rules = nullptr;
  std::string base = "policies";
  if (config.is_array()) {
    rules = &config.get_array();
  } else if (config.is_object()) {
    base = "policies.rules";
    for (const auto& kv : config.get_object()) {
      if (kv.key() == "rules") {
        if (kv.value().is_array())
          rules = &kv.value().get_array();
        else
          errors.push_back("policies.rules: must be an array of rules");
      } else if (kv.key() == "defaults") {
        read_defaults(kv.value(), set.defaults_, errors);
      } else {
        errors.push_back("policies." + std::string(kv.key())
                         + ": unknown key (expected rules or defaults)");
      }
    }
  } else if (!config.is_null()) {
    errors.push_back("policies: must be an array of rules or an object with rules and defaults");
  }
  std::map<std::string, std::size_t> first_index;
  for (std::size_t i = 0; rules && i < rules->size(); ++i) {
    auto where = base + "[" + std::to_string(i) + "]";
    const auto& item = (*rules)[i];
    if (!item.is_object()) {
      errors.push_back(where + ": must be an object");
      continue;
    }
    policy_rule rule;
    rule_reader reader(where, errors);
    reader.read(item.get_object(), rule);
    rule.when_validator_ = reader.compiled_when;
    if (!rule.name.empty()) {
      auto [at, fresh] = first_index.emplace(rule.name, i);
      if (!fresh)
        errors.push_back(where + ".name (rule " + rule.name + "): duplicate of " + base + "["
                         + std::to_string(at->second) + "]");
    }
    set.rules_.push_back(std::move(rule));
  }
  if (errors.empty())
    result.value = std::move(set);
  return result;
}

std::optional<std::chrono::seconds> parse_iso8601_duration(const std::string& text) {
  // P[nD][T[nH][nM][nS]]: each part at most 9 digits, so the sum cannot overflow.
  if (text.size() < 3 || text[0] != 'P')
    return std::nullopt;
  long long total = 0;
  bool in_time = false, any = false, time_part = false;
  char last = 0; // the last unit read, to keep D < H < M < S and each once
  static const std::string order = "DHMS";
  std::size_t i = 1;
  while (i < text.size()) {
    if (text[i] == 'T') {
      if (in_time)
        return std::nullopt;
      in_time = true;
      ++i;
      continue;
    }
    std::size_t start = i;
    long long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && i - start < 10)
      n = n * 10 + (text[i++] - '0');
    if (i == start || i - start > 9 || i == text.size())
      return std::nullopt;
    char unit = text[i++];
    auto pos = order.find(unit);
    if (pos == std::string::npos || (unit == 'D') == in_time || (last && pos <= order.find(last)))
      return std::nullopt;
    static constexpr long long seconds_per[] = {86400, 3600, 60, 1};
    total += n * seconds_per[pos];
    last = unit;
    any = true;
    time_part = time_part || in_time;
  }
  if (!any || (in_time && !time_part))
    return std::nullopt;
  return std::chrono::seconds(total);
}

} // namespace cairn::workflow
