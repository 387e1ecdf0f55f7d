// SPDX-License-Identifier: Apache-2.0
// Reads anywhere (docs/cluster.md, "Reads anywhere, status, metrics"): a read
// about an actor is answered by the node that owns it, whichever node was
// asked. Proxy, not redirect: browsers, MCP clients and curl without -L all
// work, and a token is only ever sent on to a member of the cluster.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/http_client.hpp"
#include "cairn/text_codec.hpp"
#include "cluster_impl.hpp"
#include "list_merge.hpp"

namespace cairn::cluster {

namespace {

constexpr size_t proxy_threads = 4;
constexpr size_t task_threads = 8;
constexpr size_t proxy_queue = 256;
const std::string actors_prefix = "/api/v1/actors/";
const std::string plans_prefix = "/api/v1/plans/";
const std::string dead_prefix = "/api/v1/dead-letters/";

/// A few threads for proxied reads: each waits on another node's answer.
class proxy_pool {
public:
  explicit proxy_pool(size_t threads) {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run(); });
  }
  ~proxy_pool() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  bool submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (jobs_.size() >= proxy_queue)
        return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock{mtx_};
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty())
          return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

http_response problem(unsigned status, const std::string& code, const std::string& detail) {
  boost::json::object o{{"type", "about:blank"},
                        {"title", code},
                        {"status", status},
                        {"code", code},
                        {"detail", detail}};
  return http_response{
    status, "application/problem+json", boost::json::serialize(o), {{"Retry-After", "1"}}, nullptr};
}

bool split_url(const std::string& url, std::string& host, std::string& port) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    return false;
  auto rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return false;
  host = rest.substr(0, colon);
  port = rest.substr(colon + 1);
  return true;
}

/// The actor id a GET under /api/v1/actors/ or of /api/v1/plans/{id} is
/// about ("" if none). A plan's event stream is not proxied: it is served
/// where it is asked.
std::string actor_of(const std::string& target) {
  auto path = target.substr(0, target.find('?'));
  bool plan = path.rfind(plans_prefix, 0) == 0;
  if (path.rfind(actors_prefix, 0) != 0 && !plan)
    return {};
  auto segment = path.substr(plan ? plans_prefix.size() : actors_prefix.size());
  auto slash = segment.find('/');
  if (plan && slash != std::string::npos)
    return {}; // /events, /cancel
  auto id = percent_decode(segment.substr(0, slash));
  if (!id || id->empty())
    return {};
  if (plan && id->rfind("plan/", 0) != 0)
    return "plan/" + *id;
  return *id;
}

/// The plan whose event stream `target` asks for ("" if none).
std::string events_of(const std::string& target) {
  auto path = target.substr(0, target.find('?'));
  const std::string suffix = "/events";
  if (path.rfind(plans_prefix, 0) != 0 || path.size() <= plans_prefix.size() + suffix.size()
      || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
    return {};
  auto segment =
    path.substr(plans_prefix.size(), path.size() - plans_prefix.size() - suffix.size());
  auto id = percent_decode(segment);
  if (segment.find('/') != std::string::npos || !id || id->empty())
    return {};
  return id->rfind("plan/", 0) == 0 ? *id : "plan/" + *id;
}

/// The task a POST /mcp asks about (tasks/get, tasks/result, tasks/cancel,
/// tasks/update with a `taskId`), "" if none. A task is its call actor.
std::string task_of(const http_request& req) {
  if (req.method != "POST" || req.target.substr(0, req.target.find('?')) != "/mcp"
      || req.body.size() > 64 * 1024 || req.body.find("\"tasks/") == std::string::npos)
    return {};
  boost::system::error_code ec;
  auto v = boost::json::parse(req.body, ec);
  if (ec || !v.is_object())
    return {};
  auto& o = v.as_object();
  auto* m = o.if_contains("method");
  auto* params = o.if_contains("params");
  if (!m || !m->is_string() || !params || !params->is_object())
    return {};
  std::string method{m->as_string()};
  if (method != "tasks/get" && method != "tasks/result" && method != "tasks/cancel"
      && method != "tasks/update")
    return {};
  auto* t = params->as_object().if_contains("taskId");
  return t && t->is_string() ? std::string{t->as_string()} : std::string{};
}

/// Asks `to` for `req` (its method, target, body and Authorization).
http_client_request forwarded(const http_request& req, const cluster_node::remote_owner& to,
                              bool& ok) {
  http_client_request out;
  ok = split_url(to.http, out.host, out.port);
  out.method = req.method;
  out.target = req.target;
  out.body = req.body;
  out.timeout = std::chrono::seconds{10};
  out.headers.emplace_back("Cairn-Proxied-By", "cairn");
  if (!req.body.empty())
    out.headers.emplace_back("Content-Type", "application/json");
  if (auto auth = req.header("authorization"); !auth.empty())
    out.headers.emplace_back("Authorization", auth);
  return out;
}

http_response answer_of(http_client_response& r, const std::string& node) {
  http_response res;
  res.status = static_cast<unsigned>(r.status);
  res.content_type = r.header("content-type");
  res.body = std::move(r.body);
  res.headers.emplace_back("Cairn-Served-By", node);
  return res;
}

} // namespace

std::optional<cluster_node::remote_owner> cluster_node::owner_of(std::string_view actor_id) const {
  auto v = impl_->current();
  if (!v || v->shards == 0 || v->shard.size() != v->shards)
    return std::nullopt;
  auto& s = v->shard[shard_of(actor_id, v->shards)];
  if (s.owner.empty() || s.owner == impl_->opts.node_id)
    return std::nullopt;
  remote_owner out{s.owner, {}};
  if (auto m = v->members.find(s.owner); m != v->members.end())
    out.http = m->second.http;
  return out;
}

std::vector<cluster_node::remote_owner> cluster_node::others() const {
  std::vector<remote_owner> out;
  auto v = impl_->current();
  if (!v)
    return out;
  for (auto& [id, m] : v->members)
    if (id != impl_->opts.node_id && !m.http.empty())
      out.push_back(remote_owner{id, m.http});
  std::set<std::string> absent;
  for (auto& s : v->shard)
    if (!s.owner.empty() && s.owner != impl_->opts.node_id && !v->members.count(s.owner))
      absent.insert(s.owner);
  for (auto& id : absent)
    out.push_back(remote_owner{id, {}});
  return out;
}

http_handler route_reads(cluster_node& c, http_handler next) {
  auto pool = std::make_shared<proxy_pool>(proxy_threads);
  // tasks/result may wait for as long as a call may run: those waits get
  // threads of their own, so they never hold up the reads.
  auto tasks = std::make_shared<proxy_pool>(task_threads);
  return [&c, pool, tasks, next = std::move(next)](const http_request& req,
                                                   http_responder respond) {
    // A proxied request is answered where it lands: never proxied twice.
    if (!req.header("cairn-proxied-by").empty())
      return next(req, std::move(respond));
    auto path = req.target.substr(0, req.target.find('?'));
    if (path.rfind(dead_prefix, 0) == 0 && path.size() > dead_prefix.size()) {
      // A dead letter lives where it failed: here, or on another member.
      auto others = c.others();
      if (others.empty())
        return next(req, std::move(respond));
      return next(req, [req, others, pool, respond](http_response local) {
        if (local.status != 404)
          return respond(std::move(local));
        auto shared = std::make_shared<http_response>(std::move(local));
        bool queued = pool->submit([req, others, respond, shared] {
          for (auto& o : others) {
            bool ok = false;
            auto out = forwarded(req, o, ok); // not ok: no address (not a member now)
            if (!ok)
              continue;
            auto r = http_fetch(out);
            if (r.failure == http_client_failure::none && r.status != 404)
              return respond(answer_of(r, o.node_id));
          }
          respond(std::move(*shared)); // nobody holds it
        });
        if (!queued)
          respond(problem(503, "busy", "too many reads wait for other nodes; retry later"));
      });
    }
    // MCP task requests (either revision) are answered by the node owning
    // the task's call actor. A session lives on the node that opened it, so
    // the owner is told the session's revision instead of its id; tasks are
    // bound to the token, which goes along.
    if (auto task = task_of(req); !task.empty())
      if (auto owner = c.owner_of(task)) {
        bool ok = !owner->http.empty();
        auto out = ok ? forwarded(req, *owner, ok) : http_client_request{};
        if (!ok)
          return respond(problem(503, "owner_unavailable",
                                 "task " + task + " lives on node " + owner->node_id
                                   + ", which cannot be asked now; retry"));
        out.timeout = std::chrono::minutes{6}; // tasks/result waits up to call_timeout (5 min)
        for (const char* h : {"accept", "mcp-protocol-version", "mcp-method", "mcp-name"})
          if (auto v = req.header(h); !v.empty())
            out.headers.emplace_back(h, v);
        if (!req.header("mcp-session-id").empty()) {
          auto rev = req.header("mcp-protocol-version");
          out.headers.emplace_back("Cairn-Session-Revision", rev.empty() ? "2025-11-25" : rev);
        }
        auto node = owner->node_id;
        if (!tasks->submit([out, node, respond] {
              auto r = http_fetch(out);
              if (r.failure != http_client_failure::none)
                return respond(
                  problem(503, "owner_unavailable",
                          "node " + node + " did not answer (" + r.error + "); retry"));
              respond(answer_of(r, node));
            }))
          respond(problem(503, "busy", "too many reads wait for other nodes; retry later"));
        return;
      }
    if (req.method != "GET")
      return next(req, std::move(respond));
    // A plan's event stream lasts as long as the plan: redirected to the
    // owner (307; EventSource and curl -L follow), not held open here.
    if (auto plan = events_of(req.target); !plan.empty())
      if (auto owner = c.owner_of(plan); owner && !owner->http.empty())
        return respond(http_response{307,
                                     "text/plain",
                                     "plan " + plan + " is served by node " + owner->node_id + "\n",
                                     {{"Location", owner->http + req.target}},
                                     nullptr});
    // A list: every node's part, merged; who did not answer is named.
    if (merged_list(path))
      if (auto others = c.others(); !others.empty())
        return next(req, [req, others, pool, respond](http_response local) {
          if (local.status != 200 || local.stream)
            return respond(std::move(local));
          auto mine = std::make_shared<http_response>(std::move(local));
          bool queued = pool->submit([req, others, respond, mine] {
            std::vector<member_page> pages{{{}, mine->body}};
            std::vector<std::string> missing;
            for (auto& o : others) {
              bool ok = false;
              auto out = forwarded(req, o, ok);
              out.timeout = std::chrono::seconds{2};
              auto r = ok ? http_fetch(out) : http_client_response{};
              if (!ok || r.failure != http_client_failure::none || r.status != 200)
                missing.push_back(o.node_id);
              else
                pages.push_back(member_page{o.node_id, std::move(r.body)});
            }
            if (auto merged = merge_pages(req.target, pages, missing); !merged.empty())
              mine->body = std::move(merged);
            respond(std::move(*mine));
          });
          if (!queued)
            respond(problem(503, "busy", "too many reads wait for other nodes; retry later"));
        });
    auto id = actor_of(req.target);
    auto owner = id.empty() ? std::nullopt : c.owner_of(id);
    if (!owner)
      return next(req, std::move(respond));
    if (owner->http.empty())
      return respond(problem(503, "owner_unavailable",
                             "actor " + id + " lives on node " + owner->node_id
                               + ", which is not a member now; retry when it is back"));
    bool ok = false;
    auto out = forwarded(req, *owner, ok);
    if (!ok)
      return respond(problem(503, "owner_unavailable",
                             "node " + owner->node_id + " has no HTTP address to ask"));
    auto node = owner->node_id;
    bool queued = pool->submit([out, node, respond] {
      auto r = http_fetch(out);
      if (r.failure != http_client_failure::none) {
        respond(problem(503, "owner_unavailable",
                        "node " + node + " did not answer (" + r.error + "); retry"));
        return;
      }
      respond(answer_of(r, node));
    });
    if (!queued)
      respond(problem(503, "busy", "too many reads wait for other nodes; retry later"));
  };
}

} // namespace cairn::cluster
