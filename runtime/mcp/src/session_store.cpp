// SPDX-License-Identifier: Apache-2.0
// 2025-11-25 sessions and their bounded store.
#include "internal/session_store.hpp"

#include <chrono>

namespace cairn::mcp {

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool session::push(const std::string& message) {
  std::shared_ptr<http_stream> s;
  std::function<void(std::string)> w;
  {
    std::lock_guard lock{mu};
    s = get_stream;
    w = write;
  }
  if (w) {
    w(message);
    return true;
  }
  return s && s->write("data: " + message + "\n\n");
}

void session::close_stream() {
  std::shared_ptr<http_stream> get;
  {
    std::lock_guard lock{mu};
    get = std::move(get_stream);
  }
  if (get)
    get->close();
}

std::string session::add_pending(std::function<void(json::object)> answer) {
  std::lock_guard lock{mu};
  if (ended || pending.size() >= max_pending_requests)
    return {};
  auto rid = "s" + std::to_string(next_request++);
  pending[rid] = std::move(answer);
  return rid;
}

std::function<void(json::object)> session::take_pending(const std::string& rid) {
  std::lock_guard lock{mu};
  auto it = pending.find(rid);
  if (it == pending.end())
    return nullptr;
  auto fn = std::move(it->second);
  pending.erase(it);
  return fn;
}

size_t session::pending_count() {
  std::lock_guard lock{mu};
  return pending.size();
}

void session::end() {
  std::map<std::string, std::function<void(json::object)>> waiting;
  {
    std::lock_guard lock{mu};
    ended = true;
    waiting.swap(pending);
  }
  close_stream();
  for (auto& [rid, fn] : waiting)
    fn(json::object{{"jsonrpc", "2.0"},
                    {"id", rid},
                    {"error", json::object{{"code", -32600}, {"message", "the session ended"}}}});
}

std::shared_ptr<session> session_store::find(const std::string& id) {
  std::lock_guard lock{mu_};
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    return nullptr;
  it->second->last_used_ms.store(steady_ms());
  return it->second;
}

void session_store::insert(std::shared_ptr<session> s) {
  s->last_used_ms.store(steady_ms());
  std::shared_ptr<session> evicted;
  {
    std::lock_guard lock{mu_};
    // Abandoned sessions must not pile up: past the cap, the least
    // recently used one ends (its client gets 404 and starts again).
    if (sessions_.count(s->id) == 0 && sessions_.size() >= max_) {
      auto oldest = sessions_.end();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->first != "stdio"
            && (oldest == sessions_.end()
                || it->second->last_used_ms.load() < oldest->second->last_used_ms.load()))
          oldest = it;
      if (oldest != sessions_.end()) {
        evicted = oldest->second;
        sessions_.erase(oldest);
      }
    }
    auto id = s->id;
    sessions_[id] = std::move(s);
  }
  if (evicted)
    evicted->end();
}

bool session_store::erase(const std::string& id) {
  std::shared_ptr<session> gone;
  {
    std::lock_guard lock{mu_};
    auto it = sessions_.find(id);
    if (it == sessions_.end())
      return false;
    gone = std::move(it->second);
    sessions_.erase(it);
  }
  gone->end();
  return true;
}

std::vector<std::shared_ptr<session>> session_store::all() {
  std::vector<std::shared_ptr<session>> out;
  std::lock_guard lock{mu_};
  for (auto& [id, s] : sessions_)
    out.push_back(s);
  return out;
}

} // namespace cairn::mcp
