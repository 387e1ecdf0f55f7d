// SPDX-License-Identifier: Apache-2.0
// Calling a node and printing its answers, for the operator commands.
#include "commands/client_output.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <boost/json.hpp>

#include "cairn/http_client.hpp"

namespace cairn::cli {

namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds call_timeout{30'000};

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

/// Why there was no answer, for people.
std::string failure_text(const client_options& o, const node_url& u,
                         const http_client_response& r) {
  switch (r.failure) {
    case http_client_failure::resolve: return "cannot resolve " + u.host + ": " + r.error;
    case http_client_failure::connect: return "cannot reach the node at " + o.node + ": " + r.error;
    case http_client_failure::timeout: return "the node at " + o.node + " did not answer in time";
    default: return "the node at " + o.node + " sent no HTTP answer (" + r.error + ")";
  }
}

/// The problem's detail without a leading copy of its code: the node renders
/// some errors as `CODE: DETAIL`, and the CLI prints the code already.
std::string detail_without_code(const std::string& code, std::string detail) {
  if (!code.empty() && detail.rfind(code + ": ", 0) == 0)
    detail.erase(0, code.size() + 2);
  return detail;
}

} // namespace

std::shared_ptr<client_options> shared_client_options() {
  static auto o = [] {
    auto opts = std::make_shared<client_options>();
    if (const char* n = std::getenv("CAIRN_NODE"); n && *n)
      opts->node = n;
    if (const char* t = std::getenv("CAIRN_TOKEN"); t && *t)
      opts->token = t;
    return opts;
  }();
  return o;
}

std::shared_ptr<client_options> add_client_options(CLI::App* cmd) {
  auto o = shared_client_options();
  // Bound to one shared value: `cairn --node URL status` and `cairn status
  // --node URL` mean the same; the environment is read into it beforehand
  // (not with CLI11's envname, which would let the environment override a
  // flag given on the other level).
  cmd->add_option("--node", o->node, "Node URL, http://HOST[:PORT] (env CAIRN_NODE)")
    ->capture_default_str();
  cmd->add_option("--token", o->token, "Bearer token (env CAIRN_TOKEN)");
  cmd->add_flag("--json", o->json, "Print the node's JSON instead of a table");
  return o;
}

std::optional<node_url> parse_node_url(const std::string& url, std::string& why) {
  auto bad = [&](const std::string& what) {
    why = "invalid --node URL '" + url + "': " + what + " (expected http://HOST[:PORT])";
    return std::nullopt;
  };
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    if (url.rfind("https://", 0) == 0)
      return bad("https is not supported (the node serves plain HTTP)");
    return bad(url.find("://") == std::string::npos ? "no http:// scheme" : "not http://");
  }
  node_url u;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string::npos)
    return bad("user information is not supported; use --token");
  std::string port;
  if (!rest.empty() && rest.front() == '[') { // [v6]:port
    auto close = rest.find(']');
    if (close == std::string::npos)
      return bad("unclosed [");
    u.host = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return bad("junk after ]");
      port = after.substr(1);
    }
  } else {
    auto colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos)
      port = rest.substr(colon + 1);
  }
  if (u.host.empty())
    return bad("no host");
  if (!port.empty()) {
    if (!all_digits(port) || port.size() > 5 || std::stoul(port) == 0 || std::stoul(port) > 65535)
      return bad("port '" + port + "' is not a number from 1 to 65535");
    u.port = port;
  }
  return u;
}

node_answer call_node(const client_options& o, const std::string& method, const std::string& path,
                      const std::string& body) {
  node_answer a;
  std::string why;
  auto u = parse_node_url(o.node, why);
  if (!u) {
    std::fprintf(stderr, "cairn: %s\n", why.c_str());
    a.code = exit_usage;
    return a;
  }
  if (!u->path.empty() && u->path != "/") {
    std::fprintf(stderr, "cairn: invalid --node URL '%s': give the node's root, without a path\n",
                 o.node.c_str());
    a.code = exit_usage;
    return a;
  }
  http_client_request req;
  req.method = method;
  req.host = u->host;
  req.port = u->port;
  req.target = path;
  req.body = body;
  req.timeout = call_timeout;
  if (!o.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + o.token);
  if (!body.empty() || method == "POST")
    req.headers.emplace_back("Content-Type", "application/json");
  auto r = http_fetch(req);
  if (r.failure != http_client_failure::none) {
    std::fprintf(stderr, "cairn: %s\n  (is the node running? set --node or CAIRN_NODE)\n",
                 failure_text(o, *u, r).c_str());
    a.code = exit_unreachable;
    return a;
  }
  a.status = r.status;
  a.raw = std::move(r.body);
  boost::system::error_code ec;
  if (!a.raw.empty())
    a.body = json::parse(a.raw, ec);
  if (r.status >= 400) {
    auto* obj = !ec ? a.body.if_object() : nullptr;
    auto* code = obj ? obj->if_contains("code") : nullptr;
    if (code && code->is_string()) {
      std::string c{code->as_string()};
      auto* d = obj->if_contains("detail");
      auto detail = d && d->is_string() ? std::string{d->as_string()} : std::string{};
      std::fprintf(stderr, "cairn: %s (HTTP %d): %s\n", c.c_str(), r.status,
                   detail_without_code(c, detail).c_str());
    } else {
      std::fprintf(stderr, "cairn: the node answered HTTP %d\n", r.status);
    }
    a.code = exit_node_error;
    return a;
  }
  if (ec) {
    std::fprintf(stderr, "cairn: the node's answer is not JSON: %s\n", ec.message().c_str());
    a.code = exit_node_error;
    return a;
  }
  // A list merged across a cluster names the nodes that did not answer.
  if (auto* obj = a.body.if_object())
    if (auto* m = obj->if_contains("missing"); m && m->is_array() && !m->as_array().empty()) {
      std::string names;
      for (const auto& n : m->as_array())
        if (n.is_string())
          names += (names.empty() ? "" : ", ") + std::string{n.as_string()};
      std::fprintf(stderr, "cairn: warning: node%s %s did not answer: their part is not listed\n",
                   m->as_array().size() == 1 ? "" : "s", names.c_str());
    }
  return a;
}

std::optional<std::vector<std::string>> node_kinds(const client_options& o) {
  std::string why;
  auto u = parse_node_url(o.node, why);
  if (!u)
    return std::nullopt;
  http_client_request req;
  req.host = u->host;
  req.port = u->port;
  req.target = "/metrics";
  req.timeout = call_timeout;
  if (!o.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + o.token);
  auto r = http_fetch(req);
  if (r.failure != http_client_failure::none || r.status != 200)
    return std::nullopt;
  // Every registered kind has a line `cairn_kind_processed_total{kind="K"} N`.
  const std::string prefix = "\ncairn_kind_processed_total{kind=\"";
  std::vector<std::string> kinds;
  for (auto at = r.body.find(prefix); at != std::string::npos; at = r.body.find(prefix, at + 1)) {
    auto begin = at + prefix.size();
    auto end = r.body.find('"', begin);
    if (end == std::string::npos)
      break;
    kinds.push_back(r.body.substr(begin, end - begin));
  }
  if (kinds.empty())
    return std::nullopt; // not a node that names its kinds: do not guess
  return kinds;
}

int check_kind(const client_options& o, const std::string& kind) {
  auto kinds = node_kinds(o);
  if (!kinds || std::find(kinds->begin(), kinds->end(), kind) != kinds->end())
    return exit_ok;
  std::string list;
  for (const auto& k : *kinds)
    list += (list.empty() ? "" : ", ") + k;
  std::fprintf(stderr, "cairn: unknown_actor_kind: the node has no actor kind '%s' (it has: %s)\n",
               kind.c_str(), list.c_str());
  return exit_node_error;
}

int run_call(const client_options& o, const std::string& method, const std::string& path,
             const std::string& body, const std::function<void(const json::value&)>& table) {
  auto a = call_node(o, method, path, body);
  if (a.code != exit_ok)
    return a.code;
  if (o.json) {
    std::fwrite(a.raw.data(), 1, a.raw.size(), stdout);
    std::fputc('\n', stdout);
    return exit_ok;
  }
  table(a.body);
  return exit_ok;
}

std::string utc_time(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (!gmtime_r(&secs, &tm))
    return std::to_string(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string time_field(const json::value& v, const char* name) {
  auto* o = v.if_object();
  auto* f = o ? o->if_contains(name) : nullptr;
  if (!f)
    return "-";
  if (f->is_int64() || f->is_uint64() || f->is_double())
    return utc_time(f->to_number<int64_t>());
  return cell(*f);
}

std::optional<uint64_t> parse_time_arg(const std::string& text) {
  if (all_digits(text) && text.size() <= 19)
    return std::stoull(text);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  if (text.size() >= 2 && all_digits(text.substr(0, text.size() - 1)) && text.size() <= 12) {
    uint64_t n = std::stoull(text.substr(0, text.size() - 1));
    uint64_t unit = 0;
    switch (text.back()) {
      case 's': unit = 1'000; break;
      case 'm': unit = 60'000; break;
      case 'h': unit = 3'600'000; break;
      case 'd': unit = 86'400'000; break;
      default: return std::nullopt;
    }
    auto ago = n * unit;
    return ago > static_cast<uint64_t>(now_ms) ? 0 : static_cast<uint64_t>(now_ms) - ago;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed)
        != 3
      || consumed != 10)
    return std::nullopt;
  auto rest = text.substr(10);
  if (!rest.empty()) {
    int c2 = 0;
    if (std::sscanf(rest.c_str(), "T%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &c2) != 3)
      return std::nullopt;
    rest = rest.substr(static_cast<size_t>(c2));
    if (rest != "Z" && rest != "+00:00" && !rest.empty())
      return std::nullopt; // only UTC: a local offset would be a guess
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23
      || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<uint64_t>(timegm(&tm)) * 1000;
}

std::string cell(const json::value& v) {
  if (v.is_string())
    return std::string{v.as_string()};
  if (v.is_null())
    return "-";
  return json::serialize(v);
}

std::string field(const json::value& v, const char* name) {
  if (!v.is_object())
    return "-";
  auto* f = v.as_object().if_contains(name);
  return f ? cell(*f) : "-";
}

void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows, bool with_head) {
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i)
    width[i] = head[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size())
        out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  if (with_head)
    line(head);
  for (const auto& row : rows)
    line(row);
}

std::vector<std::vector<std::string>> rows_of(const json::value& v, const char* list,
                                              const std::vector<const char*>& fields) {
  std::vector<std::vector<std::string>> rows;
  if (!v.is_object() || !v.as_object().contains(list) || !v.at(list).is_array())
    return rows;
  for (const auto& item : v.at(list).as_array()) {
    std::vector<std::string> row;
    for (auto* f : fields)
      row.push_back(field(item, f));
    rows.push_back(std::move(row));
  }
  return rows;
}

void print_members(const json::value& v) {
  for (const auto& [k, f] : v.as_object())
    std::printf("%-16s%s\n", std::string{k}.c_str(), cell(f).c_str());
}

} // namespace cairn::cli
