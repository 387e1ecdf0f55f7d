// SPDX-License-Identifier: Apache-2.0
// The settings table of `cairn node` and `cairn mcp stdio`, the JSON config
// file and the profile registry.
#include "commands/node_settings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cairn/node.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace json = boost::json;

std::map<std::string, profile>& profiles() {
  static std::map<std::string, profile> table;
  return table;
}

namespace {
node_builder& additions() {
  static node_builder b;
  return b;
}
} // namespace

const node_builder& node_additions() {
  return additions();
}

void set_node_additions(node_builder b) {
  additions() = std::move(b);
}

void add_profile(std::string name, profile p) {
  profiles()[std::move(name)] = std::move(p);
}

std::vector<std::string> profile_names() {
  std::vector<std::string> names{"default"};
  for (const auto& [name, p] : profiles())
    names.push_back(name);
  return names;
}

std::string profile_help() {
  std::string help = "default";
  for (const auto& [name, p] : profiles())
    help += ", or " + name + ": " + p.description;
  return help;
}

namespace {

template <class T>
setting number_setting(const char* name, T node_settings::*field, double min, double max) {
  return {name,
          [=](node_settings& ns, const json::value& v) -> std::string {
            if (!v.is_number())
              return "must be a number";
            auto x = v.to_number<double>();
            if (x < min || x > max
                || (std::is_integral_v<T> && x != static_cast<double>(static_cast<int64_t>(x))))
              return "must be " + std::string{std::is_integral_v<T> ? "an integer" : "a number"}
                     + " from " + fmt::format("{}", min) + " to " + fmt::format("{}", max);
            ns.*field = static_cast<T>(x);
            return {};
          },
          [=](const node_settings& ns) { return json::value(ns.*field); }};
}

setting text_setting(const char* name, std::string node_settings::*field,
                     std::vector<std::string> allowed = {}) {
  return {name,
          [=](node_settings& ns, const json::value& v) -> std::string {
            if (!v.is_string())
              return "must be a string";
            std::string x{v.as_string()};
            if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), x) == allowed.end())
              return "must be one of " + fmt::format("{}", fmt::join(allowed, ", "));
            ns.*field = x;
            return {};
          },
          [=](const node_settings& ns) { return json::value(ns.*field); }};
}

setting flag_setting(const char* name, bool node_settings::*field) {
  return {name,
          [=](node_settings& ns, const json::value& v) -> std::string {
            if (!v.is_bool())
              return "must be true or false";
            ns.*field = v.as_bool();
            return {};
          },
          [=](const node_settings& ns) { return json::value(ns.*field); }};
}

/// A token printed without its secret: `(redacted):read,write`.
json::string redact_secret(const std::string& token) {
  auto colon = token.find(':');
  return json::string{"(redacted)"
                      + (colon == std::string::npos ? std::string{} : token.substr(colon))};
}

/// A list of token strings; printed redacted by `redact`.
setting token_setting(const char* name, std::vector<std::string> node_settings::*field,
                      const char* shape, std::function<json::string(const std::string&)> redact) {
  return {name,
          [=](node_settings& ns, const json::value& v) -> std::string {
            auto error = std::string{"must be an array of \""} + shape + "\" strings";
            if (!v.is_array())
              return error;
            (ns.*field).clear();
            for (const auto& t : v.as_array()) {
              if (!t.is_string())
                return error;
              (ns.*field).emplace_back(t.as_string());
            }
            return {};
          },
          [=](const node_settings& ns) {
            json::array a;
            for (const auto& t : ns.*field)
              a.push_back(redact(t));
            return json::value(a);
          }};
}

/// Parses JSON `text` given for setting `name` by a flag or variable.
std::string setting_from_text(node_settings& ns, const std::string& name, const std::string& text) {
  json::stream_parser parser;
  boost::system::error_code ec;
  auto used = parser.write(text.data(), text.size(), ec);
  if (!ec)
    parser.finish(ec);
  if (ec)
    return "setting '" + name + "' (" + flag_of(name) + " or " + variable_of(name)
           + ") is not valid JSON at byte " + std::to_string(used) + ": " + ec.message();
  auto& table = settings_table();
  auto it =
    std::find_if(table.begin(), table.end(), [&](const setting& st) { return name == st.name; });
  if (auto err = it->from_json(ns, parser.release()); !err.empty())
    return "setting '" + name + "' " + err;
  return {};
}

} // namespace

std::optional<int> commit_cpu_named(const std::string& text) {
  if (text == "auto")
    return commit_cpu_auto;
  if (text == "off")
    return commit_cpu_off;
  if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto cpu = std::stoi(text);
  return cpu < 4096 ? std::optional<int>{cpu} : std::nullopt;
}

std::string flag_of(const std::string& name) {
  if (name == "tokens")
    return "--token";
  if (name == "mcp_tokens")
    return "--mcp-token";
  std::string flag = "--" + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string variable_of(const std::string& name) {
  std::string env = "CAIRN_" + name;
  std::transform(env.begin(), env.end(), env.begin(), ::toupper);
  return env;
}

const std::vector<setting>& settings_table() {
  static const std::vector<setting> table = {
    text_setting("data", &node_settings::data),
    text_setting("durability", &node_settings::durability, {"os", "fsync"}),
    text_setting("http", &node_settings::http),
    text_setting("profile", &node_settings::profile, profile_names()),
    number_setting("http_read_timeout", &node_settings::http_read_timeout_s, 1, 3600),
    number_setting("max_connections", &node_settings::max_connections, 1, 1e6),
    text_setting("log_level", &node_settings::log_level,
                 {"trace", "debug", "info", "warn", "error", "off"}),
    text_setting("log_format", &node_settings::log_format, {"text", "json"}),
    number_setting("max_pending", &node_settings::max_pending, 1, 1e12),
    number_setting("batch", &node_settings::max_batch, 1, 1e6),
    number_setting("max_wait_us", &node_settings::max_wait_us, 0, 1e6),
    number_setting("stage_wait_us", &node_settings::stage_wait_us, 0, 1e6),
    number_setting("wal_spare_mb", &node_settings::wal_spare_mb, 0, 65536),
    {"commit_cpu",
     [](node_settings& ns, const json::value& v) -> std::string {
       std::string x = v.is_string()  ? std::string{v.as_string()}
                       : v.is_int64() ? std::to_string(v.as_int64())
                                      : std::string{"-"};
       if (!commit_cpu_named(x))
         return "must be auto, off or a CPU number (0 to 4095)";
       ns.commit_cpu = x;
       return {};
     },
     [](const node_settings& ns) { return json::value(ns.commit_cpu); }},
    number_setting("threads", &node_settings::threads, 0, 1024),
    text_setting("scheduler", &node_settings::scheduler, {"sharing", "stealing"}),
    number_setting("max_active", &node_settings::max_active, 0, 1e9),
    number_setting("activation_window", &node_settings::activation_window, 1, 1e6),
    text_setting("cluster_etcd", &node_settings::cluster_etcd),
    text_setting("node_id", &node_settings::node_id),
    text_setting("cluster_listen", &node_settings::cluster_listen),
    {"shards",
     [](node_settings& ns, const json::value& v) -> std::string {
       boost::system::error_code ec;
       auto n = v.to_number<int64_t>(ec);
       if (ec || n < 1 || n > 4096)
         return "must be a whole number from 1 to 4096";
       ns.shards = static_cast<uint32_t>(n);
       ns.shards_given = true;
       return {};
     },
     [](const node_settings& ns) { return json::value(ns.shards); }},
    number_setting("cluster_lease_ttl", &node_settings::cluster_lease_ttl, 2, 60),
    number_setting("cluster_outbox_cap", &node_settings::cluster_outbox_cap, 1, 1e12),
    text_setting("otlp_endpoint", &node_settings::otlp_endpoint),
    {"otlp_headers", // may carry an API key: printed with its values redacted
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_string())
         return "must be a string, Name=value,Name=value";
       ns.otlp_headers = std::string{v.as_string()};
       return {};
     },
     [](const node_settings& ns) {
       std::string out, rest = ns.otlp_headers;
       while (!rest.empty()) {
         auto comma = rest.find(',');
         auto item = rest.substr(0, comma);
         rest = comma == std::string::npos ? std::string{} : rest.substr(comma + 1);
         out += (out.empty() ? "" : ",") + item.substr(0, item.find('=')) + "=(redacted)";
       }
       return json::value(out);
     }},
    number_setting("otlp_batch", &node_settings::otlp_batch, 1, 100'000),
    number_setting("otlp_queue", &node_settings::otlp_queue, 1, 1e9),
    flag_setting("demo", &node_settings::demo),
    number_setting("demo_rate", &node_settings::demo_rate, 0.001, 1e6),
    number_setting("flaky_rate", &node_settings::flaky_rate, 0, 1),
    token_setting("tokens", &node_settings::tokens, "SECRET:scope,...", redact_secret),
    token_setting("mcp_tokens", &node_settings::mcp_tokens, "SECRET:TOOL-GLOB,...", redact_secret),
    {"mcp_tools",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array())
         return "must be an array of tool declarations";
       ns.mcp_tools = v;
       return {};
     },
     [](const node_settings& ns) { return ns.mcp_tools; }},
    // The orchestrator's rules and plan templates (docs/orchestration.md);
    // flags and variables take them as JSON text, like mcp_tools.
    {"policies",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array() && !v.is_object() && !v.is_null())
         return "must be an array of rules or {\"rules\": [...], \"defaults\": {...}}";
       ns.policies = v;
       return {};
     },
     [](const node_settings& ns) { return ns.policies; }},
    {"workflows",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array() && !v.is_null())
         return "must be an array of workflows";
       ns.workflows = v;
       return {};
     },
     [](const node_settings& ns) { return ns.workflows; }},
  };
  return table;
}

void add_setting_variables(CLI::App* cmd) {
  for (const auto& st : settings_table()) {
    std::string name = st.name;
    if (auto* opt = cmd->get_option_no_throw(flag_of(name))) {
      opt->envname(variable_of(name));
      // Tokens hold commas (their scopes) but never spaces.
      if (name == "tokens" || name == "mcp_tokens")
        opt->delimiter(' ');
    }
  }
}

std::string apply_config_file(node_settings& ns, const CLI::App* cmd) {
  // Settings whose flag or variable holds JSON text.
  for (auto [name, text] :
       {std::pair{"mcp_tools", &ns.mcp_tools_text}, std::pair{"policies", &ns.policies_text},
        std::pair{"workflows", &ns.workflows_text}})
    if (auto* opt = cmd->get_option_no_throw(flag_of(name)); opt != nullptr && opt->count())
      if (auto err = setting_from_text(ns, name, *text); !err.empty())
        return err;
  // A value from a flag or variable meets the same rules as one from the
  // file (CLI11's own checks are looser for some: --threads, --max-pending).
  for (const auto& st : settings_table()) {
    std::string name = st.name;
    auto* opt = cmd->get_option_no_throw(flag_of(name));
    if (opt == nullptr || opt->count() == 0 || name == "tokens" || name == "mcp_tokens"
        || name == "mcp_tools" || name == "policies" || name == "workflows"
        || name == "otlp_headers")
      continue; // tokens are checked when parsed, mcp_tools above; otlp_headers prints
                // redacted (its values are checked when the node starts)
    if (auto err = st.from_json(ns, st.to_json(ns)); !err.empty())
      return "setting '" + name + "' (" + flag_of(name) + " or " + variable_of(name) + ") " + err;
  }
  if (ns.config.empty())
    return {};
  const auto& path = ns.config;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    return "cannot read config file " + path + ": " + std::strerror(errno);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  json::stream_parser parser;
  boost::system::error_code ec;
  auto used = parser.write(text.data(), text.size(), ec);
  if (!ec)
    parser.finish(ec);
  if (ec)
    return "config file " + path + " is not valid JSON at byte " + std::to_string(used) + ": "
           + ec.message();
  auto doc = parser.release();
  if (!doc.is_object())
    return "config file " + path + " must hold a JSON object";
  for (const auto& [key, value] : doc.as_object()) {
    std::string name{key};
    auto& table = settings_table();
    auto it =
      std::find_if(table.begin(), table.end(), [&](const setting& st) { return name == st.name; });
    if (it == table.end())
      return "config file " + path + ": unknown setting '" + name + "'";
    auto* opt = cmd->get_option_no_throw(flag_of(name));
    if (opt != nullptr && opt->count() > 0)
      continue; // a flag or CAIRN_* variable wins
    if (auto err = it->from_json(ns, value); !err.empty())
      return "config file " + path + ": setting '" + name + "' " + err;
  }
  return {};
}

json::object effective_config(const node_settings& ns) {
  json::object o;
  for (const auto& st : settings_table())
    o[st.name] = st.to_json(ns);
  return o;
}

} // namespace cairn::cli
