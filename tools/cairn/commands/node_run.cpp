// SPDX-License-Identifier: Apache-2.0
// `cairn node`: open the data directory, recover, run until SIGINT/SIGTERM.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/json.hpp>
#include <caf/message.hpp>
#include <spdlog/spdlog.h>

#include "cairn/actors/bench.hpp"
#include "cairn/actors/chain.hpp"
#include "cairn/actors/delivery.hpp"
#include "cairn/actors/demo_tools.hpp"
#include "cairn/auth.hpp"
#include "cairn/cluster/cluster_node.hpp"
#include "cairn/console.hpp"
#include "cairn/http.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/node.hpp"
#include "cairn/node_api.hpp"
#include "cairn/otlp.hpp"
#include "cairn/plain_json.hpp"
#include "cairn/runtime.hpp"
#include "cairn/tools/external_tools.hpp"
#include "cairn/workflow/engine.hpp"
#include "cairn/workflow/policy.hpp"
#include "commands/commands.hpp"
#include "commands/node_run.hpp"

namespace cairn::cli {

namespace {

std::atomic<int> stop_signal{0};
std::atomic<bool> reload_signal{false};

extern "C" void on_stop_signal(int sig) {
  stop_signal.store(sig);
}

extern "C" void on_reload_signal(int) {
  reload_signal.store(true);
}

/// SIGHUP: reads the config file's `policies` again and applies them to
/// plans submitted from now on; a bad file changes nothing.
void reload_policies(const node_settings& ns, workflow::engine& orchestrator) {
  if (ns.config.empty()) {
    spdlog::warn("SIGHUP: no --config file to reload policies from");
    return;
  }
  std::FILE* f = std::fopen(ns.config.c_str(), "r");
  if (f == nullptr) {
    spdlog::error("SIGHUP: cannot read {}; policies unchanged", ns.config);
    return;
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  boost::system::error_code ec;
  auto doc = boost::json::parse(text, ec);
  if (ec || !doc.is_object()) {
    spdlog::error("SIGHUP: {} is not a JSON object; policies unchanged", ns.config);
    return;
  }
  auto p = doc.as_object().if_contains("policies");
  if (auto err = orchestrator.set_policies(p ? *p : boost::json::value{}))
    spdlog::error("SIGHUP: {}; policies unchanged", render(err));
  else
    spdlog::info("SIGHUP: policies reloaded from {}", ns.config);
}

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

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// Parses every spec with `parse`; "" or the first error.
template <class Parse>
std::string parse_tokens(const std::vector<std::string>& specs, Parse parse,
                         std::vector<auth::token>& out) {
  for (const auto& spec : specs) {
    auto t = parse(spec);
    if (!t)
      return detail_of(t.error());
    out.push_back(std::move(*t));
  }
  return {};
}

/// The settings as start uses them, checked.
struct checked_settings {
  http_server_options http_opts;
  bool serve_http = false;
  bool loopback = true;
  std::vector<auth::token> api_tokens;
  std::vector<auth::token> tool_tokens;
  std::vector<mcp::tool_spec> declared;
  std::vector<std::pair<std::string, std::string>> otlp_headers;
};

/// Checks `ns` the one way both start and `--print-config` do: "" or why
/// not (naming the setting); a refusal is exit code 2.
std::string check_settings(const node_settings& ns, checked_settings& out) {
  auto level = spdlog::level::from_str(ns.log_level);
  if (level == spdlog::level::off && ns.log_level != "off")
    return "--log-level '" + ns.log_level + "' is not one of trace, debug, info, warn, error, off";
  out.http_opts.read_timeout = std::chrono::seconds{ns.http_read_timeout_s};
  out.http_opts.max_connections = static_cast<size_t>(ns.max_connections);
  out.serve_http = ns.http != "off";
  if (out.serve_http && !split_host_port(ns.http, out.http_opts.host, out.http_opts.port))
    return "--http '" + ns.http + "' is not HOST:PORT (or off)";
  out.loopback = is_loopback(out.http_opts.host);
  if (!ns.otlp_endpoint.empty()) {
    std::string host, port, target;
    if (auto why = parse_otlp_endpoint(ns.otlp_endpoint, host, port, target); !why.empty())
      return "--otlp-endpoint '" + ns.otlp_endpoint + "' " + why;
  }
  // "Name=value,Name=value", as OTEL_EXPORTER_OTLP_HEADERS has them.
  std::string_view rest{ns.otlp_headers};
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return "--otlp-headers: '" + std::string{item} + "' is not Name=value";
    out.otlp_headers.emplace_back(std::string{item.substr(0, eq)},
                                  std::string{item.substr(eq + 1)});
  }
  if (auto err = parse_tokens(ns.mcp_tokens, auth::parse_tool_token, out.tool_tokens); !err.empty())
    return err;
  if (out.serve_http) {
    if (auto err = parse_tokens(ns.tokens, auth::parse_api_token, out.api_tokens); !err.empty())
      return err;
  }
  if (auto parsed = workflow::parse_policies(ns.policies); !parsed.ok()) {
    std::string all;
    for (const auto& e : parsed.errors)
      all += (all.empty() ? "" : "; ") + e;
    return "setting 'policies': " + all;
  }
  if (!ns.cluster_etcd.empty()) {
    if (ns.node_id.empty())
      return "--cluster-etcd needs --node-id: every member of a cluster has its own id";
    if (auto why = cluster::check_node_id(ns.node_id); !why.empty())
      return why;
  }
  auto declared = mcp::tools_from_config(ns.mcp_tools);
  if (!declared)
    return render(declared.error());
  out.declared = std::move(*declared);
  if (ns.demo && !node_additions().has_demo())
    return "--demo: this program was built without cairn's delivery demo "
           "(node_builder::demo() adds it)";
  if (out.serve_http && !out.loopback) {
    // One token model: without --mcp-token, the --token tokens guard /mcp
    // too, so a public bind with neither leaves nothing open.
    if (out.api_tokens.empty())
      return "--http " + ns.http
             + " is not a loopback address; refusing to serve the API without "
               "authentication. Add --token SECRET:read,write,admin";
    if (auth::mcp_tokens(out.api_tokens, out.tool_tokens).empty())
      return "--http " + ns.http
             + " is not a loopback address; refusing to serve MCP without "
               "authentication. Add --mcp-token SECRET:TOOL-GLOB";
  }
  return {};
}

/// Holds start until `path` exists or a stop signal comes (`--hold-start`,
/// for tests of what the API answers while the node is starting).
void hold_start(const std::string& path) {
  while (stop_signal.load() == 0 && access(path.c_str(), F_OK) != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
}

} // namespace

int run_node(const node_settings& ns) {
  checked_settings checked;
  if (auto err = check_settings(ns, checked); !err.empty()) {
    std::fprintf(stderr, "cairn: %s\n", err.c_str());
    return 2;
  }
  if (ns.print_config) {
    std::printf("%s\n", serialize_plain(effective_config(ns)).c_str());
    return 0;
  }
  install_logger(ns);

  runtime_options opts;
  opts.data_dir = ns.data;
  opts.mode = durability_named(ns.durability).value_or(durability::os); // checked with the settings
  opts.max_pending = ns.max_pending;
  opts.max_batch = ns.max_batch;
  opts.max_wait = std::chrono::microseconds{ns.max_wait_us};
  opts.stage_wait = std::chrono::microseconds{ns.stage_wait_us};
  opts.wal_spare_bytes = static_cast<uint64_t>(ns.wal_spare_mb) << 20;
  opts.commit_cpu = commit_cpu_named(ns.commit_cpu).value_or(commit_cpu_auto); // checked
  // One scheduler thread per core (the runtime's default): tool handlers and
  // other waits run on the blocking pool, never on these threads, and more
  // threads than cores only add switches between them (HTTP batches on 2
  // cores: 4 threads 69-74k msgs/s, 2 threads 94-97k; bench/RESULTS.md).
  opts.threads = ns.threads;
  opts.max_active = ns.max_active;
  opts.activation_queue = ns.activation_window;
  opts.scheduler = scheduling_named(ns.scheduler).value_or(scheduling::sharing);
  const auto& http_opts = checked.http_opts;
  bool serve_http = checked.serve_http;
  // A cluster member routes by the shard map from the first commit on.
  auto member = cluster_member(ns, opts);
  auto rt = runtime::open(opts);
  if (!rt) {
    std::fprintf(stderr, "cairn: %s\n", render(rt.error()).c_str());
    auto code = code_of(rt.error());
    return code == errc::storage_in_use ? 3 : code == errc::invalid_argument ? 2 : 1;
  }
  // Span export (docs/observability.md, "Export"): it follows the spans on
  // disk, so it may start before recovery and outlives the HTTP server.
  std::unique_ptr<otlp_exporter> exporter;
  if (!ns.otlp_endpoint.empty()) {
    otlp_options oo;
    oo.endpoint = ns.otlp_endpoint;
    oo.headers = checked.otlp_headers;
    oo.batch = static_cast<size_t>(ns.otlp_batch);
    oo.queue = static_cast<size_t>(ns.otlp_queue);
    oo.service_instance = ns.node_id.empty() ? std::string{"local"} : ns.node_id;
    oo.version = CAIRN_VERSION;
    auto started = otlp_exporter::start(**rt, std::move(oo));
    if (!started) {
      std::fprintf(stderr, "cairn: %s\n", detail_of(started.error()).c_str());
      return 2;
    }
    exporter = std::move(*started);
  }
  const auto& additions = node_additions();
  if (additions.has_demo()) {
    actors::delivery_options demo_opts;
    demo_opts.payment_failure_rate = ns.flaky_rate;
    actors::register_delivery_demo(**rt, demo_opts);
  }
  actors::register_chain_workload(**rt);
  actors::register_bench_workload(**rt);
  // One token model: --token guards the node API and, unless --mcp-token
  // gives /mcp tokens of its own, /mcp too.
  mcp::server_options mcp_opts;
  for (auto& t : auth::mcp_tokens(checked.api_tokens, checked.tool_tokens))
    mcp_opts.tokens.push_back(mcp::mcp_token{std::move(t.secret), std::move(t.tools)});
  mcp_opts.check_host = checked.loopback;
  mcp_opts.version = CAIRN_VERSION;
  mcp::server mcp_server{**rt, mcp_opts};
  // The suite calls the first listed tool with no arguments: fixture first.
  if (auto it = profiles().find(ns.profile); it != profiles().end())
    it->second.install(mcp_server, **rt);
  // The program's own kinds and tools (`node_main`), then the demo's.
  for (const auto& step : additions.steps()) {
    if (auto err = step(**rt, mcp_server)) {
      std::fprintf(stderr, "cairn: %s\n", detail_of(err).c_str());
      return 2;
    }
  }
  if (additions.has_demo()) {
    actors::register_demo_tools(mcp_server, **rt);
    actors::register_orchestration_demo(mcp_server, **rt, ns.demo ? ns.flaky_rate : 0.0);
  }
  for (auto& t : checked.declared)
    mcp_server.add_tool(std::move(t));
  // The orchestrator: plans over the tools above. With --demo and nothing
  // configured, the demo's policy and workflow.
  workflow::engine orchestrator{**rt, mcp_server};
  orchestrator.attach();
  auto policies = ns.policies;
  auto workflows = ns.workflows;
  if (ns.demo && policies.is_null())
    policies = boost::json::parse(actors::demo_policies_json());
  if (ns.demo && workflows.is_null())
    workflows = boost::json::parse(actors::demo_workflows_json());
  if (auto err = orchestrator.set_policies(policies)) {
    std::fprintf(stderr, "cairn: %s\n", detail_of(err).c_str());
    return 2;
  }
  if (auto err = orchestrator.add_workflows(workflows)) {
    std::fprintf(stderr, "cairn: %s\n", detail_of(err).c_str());
    return 2;
  }
  mcp_server.attach();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGHUP, on_reload_signal);
  std::unique_ptr<http_server> server;
  std::string url = "off";
  // The API serves while recovery runs: what it refuses meanwhile is
  // `starting`, not `shutting_down`.
  auto starting = std::make_shared<std::atomic<bool>>(true);
  // Known once the server listens (port 0 picks one); read by status.
  struct shared_address {
    std::mutex mtx;
    std::string url;
    http_server* server = nullptr; // set once it listens
  };
  auto address = std::make_shared<shared_address>();
  if (serve_http) {
    node_api_options api;
    api.durability = ns.durability;
    api.tokens = checked.api_tokens;
    api.starting = [starting] { return starting->load(); };
    api.version = CAIRN_VERSION;
    api.data_dir = ns.data;
    api.address = [address] {
      std::lock_guard<std::mutex> guard{address->mtx};
      return address->url;
    };
    if (member)
      wire_cluster_api(*member, api);
    api.bench_report = [](const std::string& run) {
      auto r = actors::bench_report_of(run);
      return r ? actors::bench_report_json(*r) : std::string{};
    };
    api.tools = [&mcp_server] {
      return boost::json::serialize(boost::json::object{{"tools", mcp_server.tool_listing()}});
    };
    api.extra_metrics = [address, &mcp_server, cm = member.get(), ex = exporter.get()] {
      std::string out = cm != nullptr ? cm->metrics_text() : std::string{};
      if (ex != nullptr)
        out += ex->metrics_text();
      auto add = [&out](const char* name, const char* type, const char* help, uint64_t v) {
        out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n"
               + name + " " + std::to_string(v) + "\n";
      };
      {
        std::lock_guard<std::mutex> guard{address->mtx};
        if (address->server != nullptr) {
          add("cairn_http_connections", "gauge", "Open HTTP connections.",
              address->server->connections());
          add("cairn_http_connections_refused_total", "counter",
              "Connections refused because max_connections were open.",
              address->server->refused_connections());
        }
      }
      add("cairn_http_stream_overflows_total", "counter",
          "Event streams closed because their client fell too far behind.",
          http_stream::overflows());
      auto m = mcp_server.stats();
      add("cairn_mcp_sessions", "gauge", "MCP sessions held.", m.sessions);
      add("cairn_mcp_pending_requests", "gauge",
          "Questions to MCP clients not answered yet, all sessions.", m.pending_requests);
      add("cairn_mcp_live_calls", "gauge", "MCP tool calls in flight.", m.live_calls);
      return out;
    };
    auto handler = route_console(workflow::route_plans(
      orchestrator, checked.api_tokens, mcp::route_mcp(mcp_server, make_node_api(**rt, api))));
    // On loopback, only loopback names: no DNS rebinding into the API.
    if (checked.loopback)
      handler = refuse_foreign_hosts(std::move(handler));
    // In a cluster, reads about an actor are answered by its owner.
    if (member)
      handler = cluster::route_reads(*member, std::move(handler));
    auto srv = http_server::start(http_opts, std::move(handler));
    if (!srv) {
      std::fprintf(stderr, "cairn: %s\n", render(srv.error()).c_str());
      return 1;
    }
    server = std::move(*srv);
    auto host =
      http_opts.host.find(':') != std::string::npos ? "[" + http_opts.host + "]" : http_opts.host;
    url = "http://" + host + ":" + std::to_string(server->port());
    {
      std::lock_guard<std::mutex> guard{address->mtx};
      address->url = url;
      address->server = server.get();
    }
  }
  // With MCP on stdio, stdout carries the protocol only.
  std::FILE* human = ns.stdio ? stderr : stdout;
  if (!ns.hold_start.empty()) {
    std::fprintf(human, "cairn node holding start: %s, until %s exists\n", url.c_str(),
                 ns.hold_start.c_str());
    std::fflush(human);
    hold_start(ns.hold_start);
  }
  if (member) {
    if (auto err = member->join(**rt, url)) {
      std::fprintf(stderr, "cairn: cannot join the cluster: %s\n", detail_of(err).c_str());
      return code_of(err) == errc::invalid_argument || code_of(err) == errc::conflict ? 2 : 1;
    }
  }
  // The HTTP server is up first, so /healthz answers and /readyz says 503
  // while recovery runs.
  if (auto err = (*rt)->start()) {
    std::fprintf(stderr, "cairn: cannot start: %s\n", render(err).c_str());
    return 1;
  }
  starting->store(false);
  if (member) {
    member->run();
    std::fprintf(human, "cairn node %s in cluster: %u of the shards owned here\n",
                 ns.node_id.c_str(), member->shards_owned());
  }
  std::fprintf(human, "cairn node ready: %s, data %s, durability %s, pid %d\n", url.c_str(),
               ns.data.c_str(), ns.durability.c_str(), static_cast<int>(getpid()));
  if (serve_http)
    std::fprintf(human, "cairn console: %s/ui/%s\n", url.c_str(),
                 checked.api_tokens.empty() ? ""
                                            : " (sign in with a token that has the read scope)");
  std::fflush(human);
  std::atomic<bool> stdin_open{ns.stdio};
  if (ns.stdio)
    serve_stdio(mcp_server, stdin_open);
  if (ns.workload == "chain") {
    if (auto err = start_chain_workload(**rt, ns); !err.empty()) {
      std::fprintf(stderr, "cairn: %s\n", err.c_str());
      return 1;
    }
  }
  std::unique_ptr<demo_producer> producer;
  std::unique_ptr<demo_planner> planner;
  if (ns.demo) {
    producer = std::make_unique<demo_producer>(**rt, ns.demo_rate);
    planner = std::make_unique<demo_planner>(orchestrator, human, std::chrono::seconds{2});
  }
  progress_line line{(*rt)->stats()};
  auto last_print = std::chrono::steady_clock::now();
  int idle_polls = 0;
  while (stop_signal.load() == 0 && (!ns.stdio || stdin_open.load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    if (reload_signal.exchange(false))
      reload_policies(ns, orchestrator);
    auto now = std::chrono::steady_clock::now();
    if (ns.progress && now - last_print >= std::chrono::seconds{1}) {
      line.print((*rt)->stats());
      last_print = now;
    }
    if (member && member->drained())
      break; // every shard moved away, every message forwarded: exit 0
    if (ns.exit_when_idle) {
      idle_polls = (*rt)->idle() ? idle_polls + 1 : 0;
      if (idle_polls >= 4)
        break;
    }
  }
  if (producer)
    producer->stop();
  if (planner)
    planner->stop();
  if (stop_signal.load() != 0)
    std::fprintf(human, "cairn node stopping on signal %d\n", stop_signal.load());
  else if (member && member->drained())
    std::fprintf(human, "cairn node drained: its shards moved to the other members with their "
                        "data; stopping\n");
  orchestrator.shutdown(); // waiting submissions and plan streams return
  mcp_server.shutdown();   // running tool calls stop and run again after a restart
  if (member)
    member->stop(); // forwarding stops (the outbox keeps its rows); the member key goes
  (*rt)->stop();    // HTTP requests meanwhile get 503 shutting_down
  if (server)
    server->stop();
  auto s = (*rt)->stats();
  std::fprintf(
    human,
    "cairn node stopped: processed %llu, dead-lettered %llu (since start); stored: "
    "pending %llu, dead letters %llu\n",
    static_cast<unsigned long long>(s.processed), static_cast<unsigned long long>(s.dead_lettered),
    static_cast<unsigned long long>(s.pending), static_cast<unsigned long long>(s.dead_letters));
  return 0;
}

} // namespace cairn::cli
