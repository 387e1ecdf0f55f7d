// SPDX-License-Identifier: Apache-2.0
// Calling a node and printing its answers, for the operator commands.
#include "commands/client_output.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/json.hpp>

#include "cairn/http_client.hpp"

namespace cairn::cli {

namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds call_timeout{30'000};

/// Fills host and port from `http://HOST[:PORT][/...]`; "" or why not.
std::string parse_node_url(const std::string& url, http_client_request& req) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    return "node URL '" + url + "' must start with http://";
  auto rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) {
    req.host = rest.substr(0, colon);
    req.port = "80";
  } else {
    req.host = rest.substr(0, colon);
    req.port = rest.substr(colon + 1);
  }
  if (req.host.size() > 2 && req.host.front() == '[' && req.host.back() == ']')
    req.host = req.host.substr(1, req.host.size() - 2);
  if (req.host.empty())
    return "node URL '" + url + "' has no host";
  return {};
}

/// Why there was no answer, for people.
std::string failure_text(const client_options& o, const http_client_request& req,
                         const http_client_response& r) {
  switch (r.failure) {
    case http_client_failure::resolve: return "cannot resolve " + req.host + ": " + r.error;
    case http_client_failure::connect: return "cannot reach the node at " + o.node + ": " + r.error;
    case http_client_failure::timeout: return "the node at " + o.node + " did not answer in time";
    default: return "the node at " + o.node + " sent no HTTP answer (" + r.error + ")";
  }
}

} // namespace

void add_client_options(CLI::App* cmd, client_options& o) {
  cmd->add_option("--node", o.node, "Node URL")->envname("CAIRN_NODE")->capture_default_str();
  cmd->add_option("--token", o.token, "Bearer token")->envname("CAIRN_TOKEN");
  cmd->add_flag("--json", o.json, "Print the node's JSON instead of a table");
}

int run_call(const client_options& o, const std::string& method, const std::string& path,
             const std::string& body, const std::function<void(const json::value&)>& table) {
  http_client_request req;
  req.method = method;
  req.target = path;
  req.body = body;
  req.timeout = call_timeout;
  if (!o.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + o.token);
  if (!body.empty() || method == "POST")
    req.headers.emplace_back("Content-Type", "application/json");
  std::string error = parse_node_url(o.node, req);
  http_client_response r;
  if (error.empty()) {
    r = http_fetch(req);
    if (r.failure != http_client_failure::none)
      error = failure_text(o, req, r);
  }
  if (!error.empty()) {
    std::fprintf(stderr, "cairn: %s\n  (is the node running? set --node or CAIRN_NODE)\n",
                 error.c_str());
    return exit_unreachable;
  }
  boost::system::error_code ec;
  auto v = r.body.empty() ? json::value{} : json::parse(r.body, ec);
  if (r.status >= 400) {
    if (!ec && v.is_object() && v.as_object().contains("code"))
      std::fprintf(stderr, "cairn: %s (HTTP %d): %s\n",
                   json::value_to<std::string>(v.at("code")).c_str(), r.status,
                   json::value_to<std::string>(v.at("detail")).c_str());
    else
      std::fprintf(stderr, "cairn: the node answered HTTP %d\n", r.status);
    return exit_node_error;
  }
  if (o.json) {
    std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    std::fputc('\n', stdout);
    return exit_ok;
  }
  if (ec) {
    std::fprintf(stderr, "cairn: the node's answer is not JSON: %s\n", ec.message().c_str());
    return exit_node_error;
  }
  table(v);
  return exit_ok;
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
