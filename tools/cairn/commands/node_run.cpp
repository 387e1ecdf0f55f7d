// SPDX-License-Identifier: Apache-2.0
// `cairn node`: open the data directory, recover, run until SIGINT/SIGTERM.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cairn/actors/chain.hpp"
#include "cairn/actors/delivery.hpp"
#include "cairn/actors/demo_tools.hpp"
#include "cairn/http.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"
#include "cairn/tools/external_tools.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

std::map<std::string, profile>& profiles() {
  static std::map<std::string, profile> table;
  return table;
}

void add_profile(std::string name, profile p) {
  profiles()[std::move(name)] = std::move(p);
}

namespace {

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

std::atomic<int> stop_signal{0};

extern "C" void on_stop_signal(int sig) {
  stop_signal.store(sig);
}

namespace json = boost::json;

/// Writes each log record as one JSON object per line on stderr. Records
/// about a message carry `trace=<id> actor=<id>` at their start; those become
/// the `trace_id` and `actor` fields.
class json_log_sink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    json::object o;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    o["ts_ms"] = ms.count();
    o["level"] = std::string{spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size()};
    std::string_view text{msg.payload.data(), msg.payload.size()};
    for (const char* field : {"trace=", "actor="}) {
      if (text.rfind(field, 0) != 0)
        break;
      auto end = text.find(' ');
      auto value = text.substr(std::strlen(field), end - std::strlen(field));
      o[std::string{field}.substr(0, std::strlen(field) - 1) == "trace" ? "trace_id" : "actor"] =
        value;
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    o["msg"] = text;
    auto line = json::serialize(o) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

struct node_settings {
  std::string data = "cairn-data";
  std::string durability = "os";
  std::string log_level = "info";
  bool demo = false;
  double demo_rate = 200;
  double flaky_rate = 0.2;
  std::string workload;
  std::string profile = "default";
  std::vector<std::string> mcp_tokens;   ///< SECRET:tool-glob[,tool-glob...]
  json::value mcp_tools = json::array{}; ///< tool declarations (exec, http)
  uint32_t chains = 8;
  uint64_t messages = 100'000;
  bool exit_when_idle = false;
  size_t max_pending = 1'000'000;
  size_t max_batch = 1024;
  int64_t max_wait_us = 0;
  size_t threads = 0;
  size_t max_active = 200'000;
  std::string http = "127.0.0.1:7070";
  int64_t http_read_timeout_s = 10;
  std::vector<std::string> tokens; ///< SECRET:scope[,scope...]
  std::string log_format = "text";
  std::string config; ///< JSON file with settings (flags and CAIRN_* win over it)
  bool print_config = false;
  bool progress = true;
  bool stdio = false; ///< serve MCP on stdin/stdout (`cairn mcp stdio`)
};

// Splits HOST:PORT; false if malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto value = std::stoul(digits);
  if (value > 65535)
    return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// One line per second: rates since the previous line, then gauges.
class progress_line {
public:
  explicit progress_line(const runtime_stats& s) : prev_(s), at_(clock::now()) {}

  void print(const runtime_stats& s) {
    auto now = clock::now();
    double secs = std::chrono::duration<double>(now - at_).count();
    auto rate = [&](uint64_t cur, uint64_t old) { return static_cast<double>(cur - old) / secs; };
    std::fprintf(
      stdout,
      "accepted %7.0f/s  processed %7.0f/s  retried %5.0f/s  dead-lettered %4.0f/s"
      "  | pending %llu  active %llu  timers %llu  dead total %llu\n",
      rate(s.accepted, prev_.accepted), rate(s.processed, prev_.processed),
      rate(s.retried, prev_.retried), rate(s.dead_lettered, prev_.dead_lettered),
      static_cast<unsigned long long>(s.pending), static_cast<unsigned long long>(s.active),
      static_cast<unsigned long long>(s.timers), static_cast<unsigned long long>(s.dead_lettered));
    std::fflush(stdout);
    prev_ = s;
    at_ = now;
  }

private:
  using clock = std::chrono::steady_clock;
  runtime_stats prev_;
  clock::time_point at_;
};

/// One setting: its name in files (`max_pending`), flag (`--max-pending`)
/// and environment (`CAIRN_MAX_PENDING`), how to read it from JSON and how
/// to print it. The single place that lists what a node can be told.
struct setting {
  const char* name;
  std::function<std::string(node_settings&, const json::value&)> from_json; ///< "" or the error
  std::function<json::value(const node_settings&)> to_json;
};

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

const std::vector<setting>& settings_table() {
  static const std::vector<setting> table = {
    text_setting("data", &node_settings::data),
    text_setting("durability", &node_settings::durability, {"os", "fsync"}),
    text_setting("http", &node_settings::http),
    text_setting("profile", &node_settings::profile, profile_names()),
    number_setting("http_read_timeout", &node_settings::http_read_timeout_s, 1, 3600),
    text_setting("log_level", &node_settings::log_level,
                 {"trace", "debug", "info", "warn", "error", "off"}),
    text_setting("log_format", &node_settings::log_format, {"text", "json"}),
    number_setting("max_pending", &node_settings::max_pending, 1, 1e12),
    number_setting("batch", &node_settings::max_batch, 1, 1e6),
    number_setting("max_wait_us", &node_settings::max_wait_us, 0, 1e6),
    number_setting("threads", &node_settings::threads, 0, 1024),
    number_setting("max_active", &node_settings::max_active, 0, 1e9),
    flag_setting("demo", &node_settings::demo),
    number_setting("demo_rate", &node_settings::demo_rate, 0.001, 1e6),
    number_setting("flaky_rate", &node_settings::flaky_rate, 0, 1),
    {"tokens",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array())
         return "must be an array of \"SECRET:scope,...\" strings";
       ns.tokens.clear();
       for (const auto& t : v.as_array()) {
         if (!t.is_string())
           return "must be an array of \"SECRET:scope,...\" strings";
         ns.tokens.emplace_back(t.as_string());
       }
       return {};
     },
     [](const node_settings& ns) {
       json::array a;
       for (size_t i = 0; i < ns.tokens.size(); ++i)
         a.push_back("(redacted)");
       return json::value(a);
     }},
    {"mcp_tokens",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array())
         return "must be an array of \"SECRET:TOOL-GLOB,...\" strings";
       ns.mcp_tokens.clear();
       for (const auto& t : v.as_array()) {
         if (!t.is_string())
           return "must be an array of \"SECRET:TOOL-GLOB,...\" strings";
         ns.mcp_tokens.emplace_back(t.as_string());
       }
       return {};
     },
     [](const node_settings& ns) {
       json::array a;
       for (const auto& t : ns.mcp_tokens)
         a.push_back(json::string{"(redacted):" + t.substr(t.find(':') + 1)});
       return json::value(a);
     }},
    {"mcp_tools",
     [](node_settings& ns, const json::value& v) -> std::string {
       if (!v.is_array())
         return "must be an array of tool declarations";
       ns.mcp_tools = v;
       return {};
     },
     [](const node_settings& ns) { return ns.mcp_tools; }},
  };
  return table;
}

/// Applies the settings of the JSON file `path` that no flag or environment
/// variable gave (`given`). Returns "" or an error naming the setting.
std::string apply_config_file(const std::string& path, node_settings& ns,
                              const std::function<bool(const std::string&)>& given) {
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
    if (given(name))
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

int run_node(const node_settings& ns) {
  auto level = spdlog::level::from_str(ns.log_level);
  if (level == spdlog::level::off && ns.log_level != "off") {
    std::fprintf(stderr,
                 "cairn: --log-level '%s' is not one of trace, debug, info, warn, error, off\n",
                 ns.log_level.c_str());
    return 2;
  }
  if (ns.print_config) {
    std::printf("%s\n", json::serialize(effective_config(ns)).c_str());
    return 0;
  }
  std::shared_ptr<spdlog::logger> logger;
  if (ns.log_format == "json")
    logger = std::make_shared<spdlog::logger>("cairn", std::make_shared<json_log_sink>());
  else
    logger = spdlog::stderr_color_mt("cairn");
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);

  runtime_options opts;
  opts.data_dir = ns.data;
  opts.mode = ns.durability == "fsync" ? durability::fsync : durability::os;
  opts.max_pending = ns.max_pending;
  opts.max_batch = ns.max_batch;
  opts.max_wait = std::chrono::microseconds{ns.max_wait_us};
  // Tool handlers may wait (on a child process, a client's answer): keep
  // threads for the other actors.
  opts.threads = ns.threads ? ns.threads : std::max(4u, std::thread::hardware_concurrency());
  opts.max_active = ns.max_active;
  http_server_options http_opts;
  http_opts.read_timeout = std::chrono::seconds{ns.http_read_timeout_s};
  bool serve_http = ns.http != "off";
  if (serve_http && !split_host_port(ns.http, http_opts.host, http_opts.port)) {
    std::fprintf(stderr, "cairn: --http '%s' is not HOST:PORT (or off)\n", ns.http.c_str());
    return 2;
  }
  auto rt = runtime::open(opts);
  if (!rt) {
    std::fprintf(stderr, "cairn: %s\n", render(rt.error()).c_str());
    return code_of(rt.error()) == errc::storage_in_use ? 3 : 1;
  }
  actors::delivery_options demo_opts;
  demo_opts.payment_failure_rate = ns.flaky_rate;
  actors::register_delivery_demo(**rt, demo_opts);
  actors::register_chain_workload(**rt);
  mcp::server_options mcp_opts;
  for (const auto& spec : ns.mcp_tokens) {
    auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
      std::fprintf(stderr, "cairn: --mcp-token '%s' is not SECRET:TOOL-GLOB[,TOOL-GLOB...]\n",
                   spec.c_str());
      return 2;
    }
    mcp::mcp_token t;
    t.secret = spec.substr(0, colon);
    std::string globs = spec.substr(colon + 1);
    for (size_t pos = 0; pos <= globs.size();) {
      auto comma = globs.find(',', pos);
      t.tools.push_back(globs.substr(pos, comma - pos));
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    mcp_opts.tokens.push_back(std::move(t));
  }
  bool loopback_bind = http_opts.host == "localhost" || http_opts.host == "::1"
                       || http_opts.host.rfind("127.", 0) == 0;
  mcp_opts.check_host = loopback_bind;
  mcp::server mcp_server{**rt, mcp_opts};
  auto declared = mcp::tools_from_config(ns.mcp_tools);
  if (!declared) {
    std::fprintf(stderr, "cairn: %s\n", render(declared.error()).c_str());
    return 2;
  }
  // The suite calls the first listed tool with no arguments: fixture first.
  if (auto it = profiles().find(ns.profile); it != profiles().end())
    it->second.install(mcp_server);
  actors::register_demo_tools(mcp_server, **rt);
  for (auto& t : *declared)
    mcp_server.add_tool(std::move(t));
  mcp_server.attach();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::unique_ptr<http_server> server;
  std::string url = "off";
  if (serve_http) {
    node_api_options api;
    api.durability = ns.durability;
    for (const auto& spec : ns.tokens) {
      auto colon = spec.rfind(':');
      api_token t;
      t.secret = spec.substr(0, colon);
      if (colon == std::string::npos || t.secret.empty()) {
        std::fprintf(stderr, "cairn: --token '%s' is not SECRET:scope[,scope...]\n", spec.c_str());
        return 2;
      }
      std::string scopes = spec.substr(colon + 1);
      for (size_t pos = 0; pos <= scopes.size();) {
        auto comma = scopes.find(',', pos);
        auto scope = scopes.substr(pos, comma - pos);
        if (scope != "read" && scope != "write" && scope != "admin") {
          std::fprintf(stderr, "cairn: --token scope '%s' is not read, write or admin\n",
                       scope.c_str());
          return 2;
        }
        t.scopes.insert(scope);
        if (comma == std::string::npos)
          break;
        pos = comma + 1;
      }
      api.tokens.push_back(std::move(t));
    }
    bool loopback = http_opts.host == "localhost" || http_opts.host == "::1"
                    || http_opts.host.rfind("127.", 0) == 0;
    if (!loopback && api.tokens.empty()) {
      std::fprintf(stderr,
                   "cairn: --http %s is not a loopback address; refusing to serve the API without "
                   "authentication. Add --token SECRET:read,write,admin\n",
                   ns.http.c_str());
      return 2;
    }
    if (!loopback && mcp_opts.tokens.empty()) {
      std::fprintf(stderr,
                   "cairn: --http %s is not a loopback address; refusing to serve MCP without "
                   "authentication. Add --mcp-token SECRET:TOOL-GLOB\n",
                   ns.http.c_str());
      return 2;
    }
    auto srv = http_server::start(http_opts, mcp::route_mcp(mcp_server, make_node_api(**rt, api)));
    if (!srv) {
      std::fprintf(stderr, "cairn: %s\n", render(srv.error()).c_str());
      return 1;
    }
    server = std::move(*srv);
    auto host =
      http_opts.host.find(':') != std::string::npos ? "[" + http_opts.host + "]" : http_opts.host;
    url = "http://" + host + ":" + std::to_string(server->port());
  }
  // The HTTP server is up first, so /healthz answers and /readyz says 503
  // while recovery runs.
  if (auto err = (*rt)->start()) {
    std::fprintf(stderr, "cairn: cannot start: %s\n", render(err).c_str());
    return 1;
  }
  // With MCP on stdio, stdout carries the protocol only.
  std::FILE* human = ns.stdio ? stderr : stdout;
  std::fprintf(human, "cairn node ready: %s, data %s, durability %s, pid %d\n", url.c_str(),
               ns.data.c_str(), ns.durability.c_str(), static_cast<int>(getpid()));
  std::fflush(human);
  std::atomic<bool> stdin_open{ns.stdio};
  if (ns.stdio) {
    // One JSON-RPC message a line; answers may come from any thread.
    auto out_mu = std::make_shared<std::mutex>();
    auto write = [out_mu](std::string msg) {
      std::lock_guard lock{*out_mu};
      msg.push_back('\n');
      std::fwrite(msg.data(), 1, msg.size(), stdout);
      std::fflush(stdout);
    };
    std::thread{[&mcp_server, &stdin_open, write] {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (line.empty() || line == "\r")
          continue;
        if (line.size() > (1u << 20)) {
          write(
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message larger than 1048576 bytes"}})");
          continue;
        }
        mcp_server.handle_stdio(line, write);
      }
      stdin_open.store(false); // the client closed stdin: stop
    }}.detach();
  }

  if (ns.workload == "chain") {
    for (uint32_t c = 0; c < ns.chains; ++c) {
      auto r = actors::start_chain(**rt, c, ns.messages / ns.chains, 64);
      if (!r) {
        std::fprintf(stderr, "cairn: cannot start chain %u: %s\n", c, render(r.error()).c_str());
        return 1;
      }
    }
  }
  // The demo producer: places orders at the configured rate, backing off when busy.
  std::atomic<bool> producing{ns.demo};
  std::thread producer;
  if (ns.demo) {
    producer = std::thread{[&] {
      auto interval = std::chrono::duration<double>(1.0 / std::max(1.0, ns.demo_rate));
      auto next = std::chrono::steady_clock::now();
      // Continue numbering after the orders of earlier runs on this data.
      uint64_t n = static_cast<uint64_t>(now_ms()) * 1000;
      while (producing.load()) {
        auto r = (*rt)->tell("order/o" + std::to_string(n), actors::make_demo_order(n));
        if (!r && code_of(r.error()) == errc::busy) {
          std::this_thread::sleep_for(std::chrono::milliseconds{100});
          continue;
        }
        ++n;
        next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
        std::this_thread::sleep_until(next);
      }
    }};
  }
  progress_line line{(*rt)->stats()};
  auto last_print = std::chrono::steady_clock::now();
  int idle_polls = 0;
  while (stop_signal.load() == 0 && (!ns.stdio || stdin_open.load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    auto now = std::chrono::steady_clock::now();
    if (ns.progress && now - last_print >= std::chrono::seconds{1}) {
      line.print((*rt)->stats());
      last_print = now;
    }
    if (ns.exit_when_idle) {
      idle_polls = (*rt)->idle() ? idle_polls + 1 : 0;
      if (idle_polls >= 4)
        break;
    }
  }
  producing.store(false);
  if (producer.joinable())
    producer.join();
  if (stop_signal.load() != 0)
    std::fprintf(human, "cairn node stopping on signal %d\n", stop_signal.load());
  mcp_server.shutdown(); // running tool calls stop and run again after a restart
  (*rt)->stop();         // HTTP requests meanwhile get 503 shutting_down
  if (server)
    server->stop();
  auto s = (*rt)->stats();
  std::fprintf(human, "cairn node stopped: processed %llu, dead-lettered %llu, pending %llu\n",
               static_cast<unsigned long long>(s.processed),
               static_cast<unsigned long long>(s.dead_lettered),
               static_cast<unsigned long long>(s.pending));
  return 0;
}

} // namespace

void add_node_run(CLI::App& app, int& exit_code) {
  auto ns = std::make_shared<node_settings>();
  auto* cmd = app.add_subcommand("node", "Run a cairn node on a local data directory");
  cmd->add_option("--data", ns->data, "Data directory (created if missing)")->capture_default_str();
  cmd
    ->add_option("--durability", ns->durability,
                 "os: acknowledged once in the write-ahead log; fsync: once fsynced")
    ->check(CLI::IsMember({"os", "fsync"}))
    ->capture_default_str();
  cmd->add_flag("--demo", ns->demo,
                "Run the delivery demo: order -> inventory -> payment -> dispatch -> notify");
  cmd->add_option("--demo-rate", ns->demo_rate, "Demo orders per second")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd->add_option("--flaky-rate", ns->flaky_rate, "Chance that one demo payment attempt fails")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  cmd->add_option("--log-level", ns->log_level, "trace, debug, info, warn, error or off")
    ->capture_default_str();
  cmd->add_option("--workload", ns->workload, "Run a built-in workload: chain")
    ->check(CLI::IsMember({"chain"}));
  cmd->add_option("--profile", ns->profile, profile_help())
    ->check(CLI::IsMember(profile_names()))
    ->capture_default_str();
  cmd->add_option("--mcp-token", ns->mcp_tokens,
                  "MCP bearer token SECRET:TOOL-GLOB[,TOOL-GLOB...], repeatable: the tools it "
                  "may list and call");
  cmd->add_option("--chains", ns->chains, "Chains of the chain workload")
    ->check(CLI::Range(1, 1024))
    ->capture_default_str();
  cmd->add_option("--messages", ns->messages, "Items of the chain workload, over all chains")
    ->capture_default_str();
  cmd->add_flag("--exit-when-idle", ns->exit_when_idle,
                "Stop once nothing is pending, in flight or scheduled");
  cmd
    ->add_option("--max-pending", ns->max_pending, "Pending messages before accepting answers busy")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd->add_option("--batch", ns->max_batch, "Commit requests per storage write")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd
    ->add_option("--max-wait-us", ns->max_wait_us,
                 "Linger for a fuller commit batch (microseconds)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  cmd->add_option("--threads", ns->threads, "Actor scheduler threads (0: one per core)")
    ->capture_default_str();
  cmd
    ->add_option("--http", ns->http, "HTTP API address HOST:PORT (port 0 picks a free one), or off")
    ->capture_default_str();
  cmd
    ->add_option("--http-read-timeout", ns->http_read_timeout_s,
                 "Seconds a client has to send a whole request (slow clients are cut off)")
    ->check(CLI::Range(1, 3600))
    ->capture_default_str();
  cmd
    ->add_option("--max-active", ns->max_active,
                 "Actors in memory at once; 0 holds all processing (accepting still works)")
    ->capture_default_str();
  cmd->add_option("--token", ns->tokens,
                  "API bearer token SECRET:scopes (read, write, admin), repeatable; required "
                  "when --http is not loopback");
  cmd->add_flag("!--no-progress", ns->progress, "Do not print the progress line");
  cmd->add_option("--log-format", ns->log_format, "text (for people) or json (one object a line)")
    ->check(CLI::IsMember({"text", "json"}))
    ->capture_default_str();
  cmd->add_option("--config", ns->config, "JSON settings file; flags and CAIRN_* variables win")
    ->envname("CAIRN_CONFIG");
  cmd->add_flag("--print-config", ns->print_config,
                "Print the effective settings as JSON and exit");
  // Every setting of the table can also come from CAIRN_<NAME>.
  for (const auto& st : settings_table()) {
    std::string flag = std::string{"--"} + st.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (auto* opt = cmd->get_option_no_throw(flag)) {
      std::string env = std::string{"CAIRN_"} + st.name;
      std::transform(env.begin(), env.end(), env.begin(), ::toupper);
      opt->envname(env);
    }
  }
  cmd->callback([ns, cmd, &exit_code] {
    if (!ns->config.empty()) {
      auto given = [cmd](const std::string& name) {
        std::string flag = "--" + name;
        std::replace(flag.begin(), flag.end(), '_', '-');
        if (flag == "--tokens")
          flag = "--token";
        else if (flag == "--mcp-tokens")
          flag = "--mcp-token";
        auto* opt = cmd->get_option_no_throw(flag);
        return opt != nullptr && opt->count() > 0;
      };
      if (auto err = apply_config_file(ns->config, *ns, given); !err.empty()) {
        std::fprintf(stderr, "cairn: %s\n", err.c_str());
        exit_code = 2;
        return;
      }
    }
    exit_code = run_node(*ns);
  });

  // cairn mcp stdio: an embedded node for desktop MCP clients.
  auto* mcp_cmd = app.add_subcommand("mcp", "Serve MCP without a separate node process");
  mcp_cmd->require_subcommand(1);
  auto ss = std::make_shared<node_settings>();
  ss->stdio = true;
  ss->progress = false;
  ss->http = "off";
  ss->log_level = "warn";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    ss->data = std::string{xdg} + "/cairn";
  else if (const char* home = std::getenv("HOME"); home && *home)
    ss->data = std::string{home} + "/.local/share/cairn";
  auto* stdio = mcp_cmd->add_subcommand(
    "stdio", "Run an embedded node serving MCP on stdin/stdout (one JSON-RPC message a line; "
             "logs on stderr), for MCP clients that launch their servers");
  stdio->add_option("--data", ss->data, "Data directory (created if missing)")
    ->capture_default_str();
  stdio->add_option("--durability", ss->durability, "os or fsync")
    ->check(CLI::IsMember({"os", "fsync"}))
    ->capture_default_str();
  stdio->add_option("--profile", ss->profile, profile_help())
    ->check(CLI::IsMember(profile_names()))
    ->capture_default_str();
  stdio->add_option("--config", ss->config, "JSON settings file (mcp_tools, ...)")
    ->envname("CAIRN_CONFIG");
  stdio->add_option("--log-level", ss->log_level, "trace, debug, info, warn, error or off")
    ->capture_default_str();
  stdio
    ->add_option("--http", ss->http, "Also serve the HTTP API and /mcp on HOST:PORT (default: off)")
    ->capture_default_str();
  stdio->callback([ss, stdio, &exit_code] {
    if (!ss->config.empty()) {
      auto given = [stdio](const std::string& name) {
        std::string flag = "--" + name;
        std::replace(flag.begin(), flag.end(), '_', '-');
        auto* opt = stdio->get_option_no_throw(flag);
        return opt != nullptr && opt->count() > 0;
      };
      if (auto err = apply_config_file(ss->config, *ss, given); !err.empty()) {
        std::fprintf(stderr, "cairn: %s\n", err.c_str());
        exit_code = 2;
        return;
      }
    }
    exit_code = run_node(*ss);
  });
}

} // namespace cairn::cli
