// SPDX-License-Identifier: Apache-2.0
// `cairn mcp stdio --node URL`: a desktop MCP client's stdio bridged to a
// running node's Streamable HTTP endpoint, so the client and the operator
// see the same node and the same data.
#include "commands/mcp_bridge.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "cairn/http_client.hpp"
#include "commands/client_output.hpp"

namespace cairn::cli {

namespace {

namespace json = boost::json;

/// JSON-RPC error code of answers the bridge makes itself (the node could
/// not be reached or answered with something that is not JSON-RPC): the
/// implementation-defined server error range.
constexpr int bridge_error = -32000;

/// Requests forwarded at once; the next waits for one to finish.
constexpr size_t max_in_flight = 32;

/// Longest silence on an answer's stream (the node sends a keep-alive every
/// 15 s on SSE streams; a JSON answer such as a waiting tasks/result may
/// take long).
constexpr std::chrono::milliseconds answer_idle{600'000};
constexpr std::chrono::milliseconds get_idle{60'000};

/// Splits an SSE byte stream into the data of its events. One per stream.
class sse_reader {
public:
  /// Feeds bytes; calls `fn(data)` for every complete event with data.
  template <class Fn>
  void feed(std::string_view bytes, Fn&& fn) {
    buf_.append(bytes.data(), bytes.size());
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl == std::string::npos)
        return;
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty()) { // the end of an event
        if (has_data_ && !data_.empty())
          fn(data_);
        data_.clear();
        has_data_ = false;
      } else if (line.rfind("data:", 0) == 0) {
        auto d = line.substr(5);
        if (!d.empty() && d.front() == ' ')
          d.erase(0, 1);
        if (has_data_)
          data_ += '\n';
        data_ += d;
        has_data_ = true;
      } // id:, event:, retry: and comments (keep-alives) carry no message
    }
  }

private:
  std::string buf_;
  std::string data_;
  bool has_data_ = false;
};

/// The bridge's state, shared by the stdin reader, the request threads and
/// the GET stream thread.
class bridge {
public:
  bridge(mcp_bridge_options opts, node_url url) : opts_(std::move(opts)), url_(std::move(url)) {
    if (url_.path.empty() || url_.path == "/")
      url_.path = "/mcp";
  }

  int run() {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos)
        continue;
      forward(std::move(line));
    }
    // The client closed stdin: deliver the answers still coming, then stop
    // listening and end the session.
    {
      std::unique_lock lock{mu_};
      done_cv_.wait(lock, [&] { return in_flight_ == 0; });
    }
    stopping_.store(true);
    if (get_thread_.joinable())
      get_thread_.join();
    end_session();
    return exit_ok;
  }

private:
  /// A message from the client, parsed as much as needed to route it.
  struct message {
    std::string text;
    json::value id;     ///< null for notifications and unparsable lines
    std::string method; ///< "" for responses
    bool request = false;
    json::object params;
  };

  static message classify(std::string line) {
    message m;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    m.text = std::move(line);
    if (ec || !v.is_object()) {
      m.request = true; // the node answers it (a parse error, with a null id)
      return m;
    }
    auto& o = v.as_object();
    if (auto* meth = o.if_contains("method"); meth && meth->is_string())
      m.method = std::string{meth->as_string()};
    if (auto* id = o.if_contains("id"))
      m.id = *id;
    m.request = !m.method.empty() && o.contains("id");
    if (auto* p = o.if_contains("params"); p && p->is_object())
      m.params = p->as_object();
    return m;
  }

  void forward(std::string line) {
    auto m = classify(std::move(line));
    if (m.method == "initialize" && m.request) {
      // In order: what follows needs the session this creates.
      post(m);
      return;
    }
    if (!m.request) { // notifications and answers to the node's requests: 202 at once
      post(m);
      return;
    }
    std::unique_lock lock{mu_};
    done_cv_.wait(lock, [&] { return in_flight_ < max_in_flight; });
    ++in_flight_;
    lock.unlock();
    std::thread{[this, m = std::move(m)] {
      post(m);
      std::lock_guard guard{mu_};
      --in_flight_;
      done_cv_.notify_all();
    }}.detach();
  }

  void write_line(const std::string& msg) {
    std::lock_guard lock{out_mu_};
    std::fwrite(msg.data(), 1, msg.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  /// Writes a message from the node as one line (JSON re-serialized: a line
  /// must not contain a newline). Returns whether it answers `id`.
  bool deliver(const std::string& data, const json::value& id) {
    boost::system::error_code ec;
    auto v = json::parse(data, ec);
    if (ec) {
      std::fprintf(stderr, "cairn mcp stdio: the node sent a message that is not JSON: %s\n",
                   data.substr(0, 200).c_str());
      return false;
    }
    bool answers = false;
    bool changed = false;
    if (auto* o = v.if_object(); o && !o->contains("method")) {
      auto* mid = o->if_contains("id");
      answers = mid && *mid == id;
      // An HTTP-level refusal carries a null id: give it the request's, or
      // the client would wait for an answer forever.
      if (mid && mid->is_null() && !id.is_null() && o->contains("error")) {
        (*o)["id"] = id;
        answers = changed = true;
      }
    }
    // As the node wrote it, unless changed or spread over lines.
    write_line(changed || data.find('\n') != std::string::npos ? json::serialize(v) : data);
    return answers;
  }

  void answer_error(const json::value& id, const std::string& text) {
    std::fprintf(stderr, "cairn mcp stdio: %s\n", text.c_str());
    if (id.is_null())
      return; // a notification or an answer: nobody waits for a reply
    json::object err{{"code", bridge_error}, {"message", text}};
    json::object msg{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
    write_line(json::serialize(msg));
  }

  http_client_request base_request(const std::string& method) {
    http_client_request req;
    req.method = method;
    req.host = url_.host;
    req.port = url_.port;
    req.target = url_.path;
    if (!opts_.token.empty())
      req.headers.emplace_back("Authorization", "Bearer " + opts_.token);
    std::lock_guard lock{mu_};
    if (!session_.empty())
      req.headers.emplace_back("Mcp-Session-Id", session_);
    if (!protocol_.empty())
      req.headers.emplace_back("MCP-Protocol-Version", protocol_);
    return req;
  }

  /// The headers a 2026-07-28 (stateless) request carries: its revision and
  /// routing names, taken from the message itself.
  static void stateless_headers(const message& m, http_client_request& req) {
    auto* meta = m.params.if_contains("_meta");
    auto* rev = meta && meta->is_object()
                  ? meta->as_object().if_contains("io.modelcontextprotocol/protocolVersion")
                  : nullptr;
    if (!rev || !rev->is_string())
      return;
    std::erase_if(req.headers, [](const auto& h) { return h.first == "MCP-Protocol-Version"; });
    req.headers.emplace_back("MCP-Protocol-Version", std::string{rev->as_string()});
    if (!m.method.empty())
      req.headers.emplace_back("Mcp-Method", m.method);
    for (const char* key : {"name", "uri", "taskId"})
      if (auto* n = m.params.if_contains(key); n && n->is_string()) {
        req.headers.emplace_back("Mcp-Name", std::string{n->as_string()});
        break;
      }
  }

  void post(const message& m) {
    auto req = base_request("POST");
    stateless_headers(m, req);
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", "application/json, text/event-stream");
    req.body = m.text;
    req.timeout = answer_idle; // not cancelled at end of input: the answer is still delivered
    bool sse = false;
    bool answered = false;
    std::string body;
    sse_reader events;
    req.on_body = [&](const http_client_response& head, std::string_view data) {
      if (data.empty()) {
        sse = head.header("content-type").find("text/event-stream") != std::string::npos;
        return;
      }
      if (!sse) {
        body.append(data.data(), data.size());
        return;
      }
      events.feed(data, [&](const std::string& msg) { answered = deliver(msg, m.id) || answered; });
    };
    auto r = http_fetch(req);
    if (r.failure != http_client_failure::none) {
      if (!answered)
        answer_error(m.id, failure_text(r));
      return;
    }
    if (m.method == "initialize" && r.status == 200)
      remember_session(r, body);
    if (!sse && !body.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(body, ec);
      if (!ec && v.is_object() && (v.as_object().contains("jsonrpc"))) {
        answered = deliver(body, m.id);
        if (r.status == 401)
          std::fprintf(stderr, "cairn mcp stdio: the node wants a bearer token: pass --token "
                               "SECRET (or set CAIRN_TOKEN)\n");
        if (r.status == 404)
          std::fprintf(stderr, "cairn mcp stdio: the node does not know this session (did it "
                               "restart?); restart the MCP client to start a new one\n");
        return;
      }
    }
    if (r.status >= 400)
      answer_error(m.id, "the node at " + opts_.node + " answered HTTP " + std::to_string(r.status)
                           + " on " + url_.path
                           + (r.status == 404 ? " (is it a cairn node with MCP?)" : ""));
    else if (m.request && !answered && !sse)
      answer_error(m.id, "the node at " + opts_.node + " answered HTTP " + std::to_string(r.status)
                           + " without a JSON-RPC message");
  }

  std::string failure_text(const http_client_response& r) const {
    switch (r.failure) {
      case http_client_failure::resolve:
        return "cannot resolve " + url_.host + ": " + r.error + " (check --node)";
      case http_client_failure::connect:
        return "cannot reach the cairn node at " + opts_.node + ": " + r.error
               + " (is it running? check --node)";
      case http_client_failure::timeout:
        return "the cairn node at " + opts_.node + " went silent (" + r.error + ")";
      default:
        return "the connection to the cairn node at " + opts_.node + " broke (" + r.error + ")";
    }
  }

  void remember_session(const http_client_response& r, const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    std::string protocol;
    if (auto* res = !ec && v.is_object() ? v.as_object().if_contains("result") : nullptr;
        res && res->is_object())
      if (auto* pv = res->as_object().if_contains("protocolVersion"); pv && pv->is_string())
        protocol = std::string{pv->as_string()};
    auto sid = r.header("mcp-session-id");
    {
      std::lock_guard lock{mu_};
      if (sid.empty() || protocol.empty())
        return;
      session_ = sid;
      protocol_ = protocol;
    }
    // Messages the node starts itself (list changes, resource updates) come
    // on the session's GET stream.
    if (!get_thread_.joinable())
      get_thread_ = std::thread{[this] { listen(); }};
  }

  /// Holds the session's GET stream open, reconnecting while the session
  /// lives; a node that refuses it (no such stream) is not asked again.
  void listen() {
    while (!stopping_.load()) {
      auto req = base_request("GET");
      req.headers.emplace_back("Accept", "text/event-stream");
      req.timeout = get_idle;
      req.cancelled = [this] { return stopping_.load(); };
      sse_reader events;
      bool ok = false;
      req.on_body = [&](const http_client_response& head, std::string_view data) {
        if (data.empty()) {
          ok = head.status == 200;
          return;
        }
        if (ok)
          events.feed(data, [&](const std::string& msg) { deliver(msg, nullptr); });
      };
      auto r = http_fetch(req);
      if (r.failure == http_client_failure::none && r.status >= 400 && r.status != 409)
        return; // no stream for this session (404: the session is gone)
      // Ended or broken: try again shortly, unless we are stopping.
      for (int i = 0; i < 10 && !stopping_.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }

  void end_session() {
    std::string sid;
    {
      std::lock_guard lock{mu_};
      sid = session_;
    }
    if (sid.empty())
      return;
    auto req = base_request("DELETE");
    req.timeout = std::chrono::milliseconds{2'000};
    http_fetch(req); // best effort: the node also expires idle sessions
  }

  mcp_bridge_options opts_;
  node_url url_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_; // guards everything below but the stdout lock
  std::condition_variable done_cv_;
  size_t in_flight_ = 0;
  std::string session_;
  std::string protocol_;
  std::thread get_thread_;
  std::mutex out_mu_;
};

} // namespace

int run_mcp_bridge(const mcp_bridge_options& opts) {
  std::string why;
  auto url = parse_node_url(opts.node, why);
  if (!url) {
    std::fprintf(stderr, "cairn: %s\n", why.c_str());
    return exit_usage;
  }
  if (!url->path.empty() && url->path != "/" && url->path != "/mcp") {
    std::fprintf(stderr, "cairn: invalid --node URL '%s': give the node's root or its /mcp\n",
                 opts.node.c_str());
    return exit_usage;
  }
  bridge b{opts, *url};
  return b.run();
}

} // namespace cairn::cli
