// SPDX-License-Identifier: Apache-2.0
// Tools declared in configuration: a child process (`exec`) or an HTTP
// endpoint (`http`). Both are external side effects, so they get the
// call's idempotency key and are retried only on failures that may be
// transient (timeouts, 5xx, no answer).
#include "cairn/tools/external_tools.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/http_client.hpp"
#include "cairn/schema/validator.hpp"

namespace cairn::mcp {

namespace {

constexpr size_t max_output = 1 << 20; // bytes of stdout (or HTTP body) kept
constexpr size_t stderr_tail = 2048;   // bytes of stderr shown in an error

/// Maps a tool's JSON output to a result: a CallToolResult as is, any
/// other JSON value as structured content, anything else as text.
tool_result to_result(const std::string& out) {
  boost::system::error_code ec;
  auto v = json::parse(out, ec);
  tool_result r;
  if (ec) {
    r.content.push_back(json::object{{"type", "text"}, {"text", out}});
    return r;
  }
  if (v.is_object() && v.as_object().contains("content") && v.at("content").is_array()) {
    auto& o = v.as_object();
    r.content = o.at("content").as_array();
    if (auto s = o.if_contains("structuredContent"))
      r.structured = *s;
    if (auto e = o.if_contains("isError"); e && e->is_bool())
      r.is_error = e->as_bool();
    return r;
  }
  r.structured = v;
  r.content.push_back(json::object{{"type", "text"}, {"text", json::serialize(v)}});
  return r;
}

std::string tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

struct exec_decl {
  std::string name;
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{30'000};
  std::vector<std::string> env; ///< names of the node's variables the child may see
};

/// Kills the child's whole process group (the child and anything it started).
void kill_group(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0)
    kill(pid, SIGKILL);
}

caf::expected<tool_result> run_exec(const exec_decl& d, call& c) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return make_error(errc::handler_failed, std::string{"pipe: "} + std::strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return make_error(errc::handler_failed, std::string{"pipe: "} + std::strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]})
      close(fd);
    return make_error(errc::handler_failed, std::string{"pipe: "} + std::strerror(errno));
  }
  // The child gets stdin/stdout/stderr and nothing else: every other
  // descriptor of the node (sockets, RocksDB files) is closed in the child,
  // whether or not it was opened close-on-exec.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  // Its own process group, so a timeout or a cancel kills its children too;
  // default signal dispositions and an empty signal mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // A clean environment: the declared variables and the idempotency key.
  std::vector<std::string> env_store;
  for (const auto& name : d.env)
    if (const char* v = std::getenv(name.c_str()))
      env_store.push_back(name + "=" + v);
  env_store.push_back("CAIRN_IDEMPOTENCY_KEY=" + c.idempotency_key());
  std::vector<char*> envp, argv;
  for (auto& e : env_store)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = d.argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    // A missing program will not appear by retrying: a tool error.
    return tool_result::error("cannot run " + d.argv[0] + ": " + std::strerror(rc));
  }
  auto input = json::serialize(c.arguments());
  size_t written = 0;
  std::string sout, serr;
  int in_fd = in[1];
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  auto deadline = std::chrono::steady_clock::now() + d.timeout;
  bool out_open = true, err_open = true, timed_out = false, cancelled = false;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  while (out_open || err_open) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (c.cancelled()) {
      cancelled = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_open)
      fds[n++] = {out[0], POLLIN, 0};
    if (err_open)
      fds[n++] = {err[0], POLLIN, 0};
    if (in_fd >= 0)
      fds[n++] = {in_fd, POLLOUT, 0};
    auto wait = std::min<int64_t>(
      100, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (poll(fds, static_cast<nfds_t>(n), static_cast<int>(wait)) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents)
        continue;
      if (fds[i].fd == in_fd) {
        auto w = write(in_fd, input.data() + written, input.size() - written);
        if (w > 0)
          written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) {
          close(in_fd);
          in_fd = -1;
        } else if (written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[8192];
      auto r = read(fds[i].fd, buf, sizeof buf);
      bool is_out = fds[i].fd == out[0];
      if (r <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      auto& dst = is_out ? sout : serr;
      dst.append(buf, static_cast<size_t>(r));
      if (!is_out && dst.size() > 4 * stderr_tail)
        dst.erase(0, dst.size() - stderr_tail);
      if (is_out && dst.size() > max_output) {
        timed_out = false;
        kill_group(pid);
      }
    }
  }
  if (in_fd >= 0)
    close(in_fd);
  close(out[0]);
  close(err[0]);
  if (timed_out || cancelled)
    kill_group(pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (cancelled)
    return tool_result::error("cancelled");
  if (timed_out)
    return make_error(errc::handler_failed, d.name + " did not finish within "
                                              + std::to_string(d.timeout.count())
                                              + " ms and was killed");
  if (sout.size() > max_output)
    return tool_result::error(d.name + " wrote more than " + std::to_string(max_output)
                              + " bytes to stdout");
  if (WIFSIGNALED(status))
    return make_error(errc::handler_failed, d.name + " was killed by signal "
                                              + std::to_string(WTERMSIG(status)) + ": "
                                              + tail(serr, stderr_tail));
  if (WEXITSTATUS(status) != 0)
    return tool_result::error(d.name + " exited with status " + std::to_string(WEXITSTATUS(status))
                              + (serr.empty() ? "" : ": " + tail(serr, stderr_tail)));
  return to_result(sout);
}

struct http_decl {
  std::string name;
  std::string host;
  std::string port;
  std::string target;
  std::chrono::milliseconds timeout{30'000};
};

/// POSTs the arguments through the node's HTTP client (one deadline for
/// every stage; a cancel, or the node stopping, ends the call within
/// ~100 ms).
caf::expected<tool_result> run_http(const http_decl& d, call& c) {
  http_client_request req;
  req.method = "POST";
  req.host = d.host;
  req.port = d.port;
  req.target = d.target;
  req.headers = {{"Content-Type", "application/json"},
                 {"Accept", "application/json"},
                 {"Idempotency-Key", c.idempotency_key()}};
  req.body = json::serialize(c.arguments());
  req.timeout = d.timeout;
  req.body_limit = max_output;
  req.cancelled = [&c] { return c.cancelled(); };
  auto res = http_fetch(req);
  switch (res.failure) {
    case http_client_failure::none: break;
    case http_client_failure::cancelled: return tool_result::error("cancelled");
    case http_client_failure::timeout:
      return make_error(errc::handler_failed,
                        d.name + ": no answer within " + std::to_string(d.timeout.count()) + " ms");
    case http_client_failure::resolve:
      return make_error(errc::handler_failed, "cannot resolve " + d.host + ": " + res.error);
    case http_client_failure::connect:
      return make_error(errc::handler_failed,
                        "cannot reach " + d.host + ":" + d.port + ": " + res.error);
    case http_client_failure::write:
      return make_error(errc::handler_failed, "request to " + d.host + " failed: " + res.error);
    case http_client_failure::read:
      return make_error(errc::handler_failed,
                        "reading the answer of " + d.host + " failed: " + res.error);
  }
  auto code = res.status;
  if (code >= 500)
    return make_error(errc::handler_failed, d.name + ": HTTP " + std::to_string(code) + ": "
                                              + tail(res.body, stderr_tail));
  if (code >= 400)
    return tool_result::error(d.name + ": HTTP " + std::to_string(code) + ": "
                              + tail(res.body, stderr_tail));
  return to_result(res.body);
}

caf::error bad(size_t i, const std::string& what) {
  return make_error(errc::invalid_argument, "mcp_tools[" + std::to_string(i) + "]: " + what);
}

} // namespace

caf::expected<std::vector<tool_spec>> tools_from_config(const json::value& decls) {
  std::vector<tool_spec> out;
  if (decls.is_null())
    return out;
  if (!decls.is_array())
    return make_error(errc::invalid_argument, "mcp_tools must be an array of tool declarations");
  static const std::regex name_re{"^[A-Za-z0-9_.-]{1,128}$"};
  static const std::set<std::string> known{
    "name",       "title",        "description",   "type",        "command", "url",
    "timeout_ms", "input_schema", "output_schema", "annotations", "risk",    "max_attempts",
    "tasks",      "env",          "cost",          "compensation"};
  size_t i = 0;
  for (const auto& dv : decls.as_array()) {
    if (!dv.is_object())
      return bad(i, "must be an object");
    const auto& d = dv.as_object();
    for (const auto& [k, v] : d)
      if (!known.count(std::string{k}))
        return bad(i, "unknown field '" + std::string{k} + "'");
    auto str = [&](const char* k) -> std::string {
      auto v = d.if_contains(k);
      return v && v->is_string() ? std::string{v->as_string()} : std::string{};
    };
    tool_spec t;
    t.name = str("name");
    if (!std::regex_match(t.name, name_re))
      return bad(i, "'name' must match [A-Za-z0-9_.-]{1,128}");
    t.title = str("title");
    t.description = str("description");
    if (t.description.empty())
      return bad(i, "tool " + t.name + " needs a 'description' (clients show it to the model)");
    if (auto s = d.if_contains("input_schema")) {
      if (!s->is_object() || s->as_object().if_contains("type") == nullptr
          || s->at("type") != json::value("object"))
        return bad(i, "'input_schema' must be a JSON Schema object with \"type\": \"object\"");
      t.input_schema = s->as_object();
      // Refused here, at start, naming the tool and the schema path: never
      // a crash and never a failure on every call later.
      if (auto c = schema::validator::compile(*s); !c)
        return bad(i, "tool " + t.name + ": input_schema " + c.error().to_string());
    }
    if (auto s = d.if_contains("output_schema")) {
      if (!s->is_object())
        return bad(i, "'output_schema' must be a JSON Schema object");
      t.output_schema = s->as_object();
      if (auto c = schema::validator::compile(*s); !c)
        return bad(i, "tool " + t.name + ": output_schema " + c.error().to_string());
    }
    if (auto a = d.if_contains("annotations")) {
      if (!a->is_object())
        return bad(i, "'annotations' must be an object");
      for (const auto& [k, v] : a->as_object()) {
        if (!v.is_bool())
          return bad(i, "annotation '" + std::string{k} + "' must be true or false");
        if (k == "read_only")
          t.annotations.read_only = v.as_bool();
        else if (k == "destructive")
          t.annotations.destructive = v.as_bool();
        else if (k == "idempotent")
          t.annotations.idempotent = v.as_bool();
        else if (k == "open_world")
          t.annotations.open_world = v.as_bool();
        else
          return bad(i, "unknown annotation '" + std::string{k}
                          + "' (read_only, destructive, idempotent, open_world)");
      }
    }
    auto risk = str("risk");
    if (risk.empty() || risk == "low")
      t.risk = risk_class::low;
    else if (risk == "medium")
      t.risk = risk_class::medium;
    else if (risk == "high")
      t.risk = risk_class::high;
    else
      return bad(i, "'risk' must be low, medium or high");
    auto tasks = str("tasks");
    if (tasks.empty() || tasks == "optional")
      t.tasks = task_support::optional;
    else if (tasks == "forbidden")
      t.tasks = task_support::forbidden;
    else if (tasks == "required")
      t.tasks = task_support::required;
    else
      return bad(i, "'tasks' must be forbidden, optional or required");
    if (auto m = d.if_contains("max_attempts")) {
      if (!m->is_int64() || m->as_int64() < 1 || m->as_int64() > 100)
        return bad(i, "'max_attempts' must be an integer from 1 to 100");
      t.max_attempts = static_cast<uint32_t>(m->as_int64());
    }
    if (auto m = d.if_contains("cost")) {
      if (!m->is_int64() || m->as_int64() < 0 || m->as_int64() > 1'000'000)
        return bad(i, "'cost' must be an integer from 0 to 1000000 (cost units a call counts "
                      "against a plan's budget)");
      t.cost = static_cast<uint64_t>(m->as_int64());
    }
    if (auto m = d.if_contains("compensation")) {
      auto* c = m->if_object();
      auto* tool = c ? c->if_contains("tool") : nullptr;
      auto* args = c ? c->if_contains("arguments") : nullptr;
      if (!tool || !tool->is_string() || (args && !args->is_object())
          || c->size() != (args ? 2u : 1u))
        return bad(i, "'compensation' must be {\"tool\": NAME, \"arguments\": {...}} (arguments "
                      "may use {\"$from\": \"arguments\"|\"result\", \"pointer\": P})");
      t.compensation = *c;
    }
    std::chrono::milliseconds timeout{30'000};
    if (auto m = d.if_contains("timeout_ms")) {
      if (!m->is_int64() || m->as_int64() < 1 || m->as_int64() > 3'600'000)
        return bad(i, "'timeout_ms' must be an integer from 1 to 3600000");
      timeout = std::chrono::milliseconds{m->as_int64()};
    }
    auto type = str("type");
    if (type == "exec") {
      auto cmd = d.if_contains("command");
      if (!cmd || !cmd->is_array() || cmd->as_array().empty())
        return bad(i, "an exec tool needs 'command': [program, args...]");
      exec_decl e{t.name, {}, timeout, {}};
      if (auto env = d.if_contains("env")) {
        static const std::regex env_re{"^[A-Za-z_][A-Za-z0-9_]*$"};
        if (!env->is_array())
          return bad(i, "'env' must be an array of variable names the child may see");
        for (const auto& v : env->as_array()) {
          if (!v.is_string() || !std::regex_match(std::string{v.as_string()}, env_re))
            return bad(i, "'env' must hold variable names ([A-Za-z_][A-Za-z0-9_]*)");
          e.env.emplace_back(v.as_string());
        }
      }
      for (const auto& a : cmd->as_array()) {
        if (!a.is_string())
          return bad(i, "'command' must hold strings only");
        e.argv.emplace_back(a.as_string());
      }
      if (e.argv[0].empty() || e.argv[0].front() != '/')
        return bad(i, "'command' must start with an absolute program path (no shell, no PATH "
                      "lookup): got '"
                        + e.argv[0] + "'");
      t.handler = [e](call& c) { return run_exec(e, c); };
    } else if (type == "http") {
      if (d.contains("env"))
        return bad(i, "'env' applies to exec tools only");
      static const std::regex url_re{R"(^http://([^/:]+)(?::(\d+))?(/.*)?$)"};
      std::smatch m;
      auto url = str("url");
      if (!std::regex_match(url, m, url_re))
        return bad(i, "an http tool needs 'url': http://HOST[:PORT]/PATH (https is not supported)");
      http_decl h{t.name, m[1], m[2].matched ? std::string{m[2]} : "80",
                  m[3].matched ? std::string{m[3]} : "/", timeout};
      t.handler = [h](call& c) { return run_http(h, c); };
    } else {
      return bad(i, "'type' must be exec or http");
    }
    out.push_back(std::move(t));
    ++i;
  }
  return out;
}

} // namespace cairn::mcp
