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
    evicted->close_stream();
}

bool session_store::erase(const std::string& id) {
  std::lock_guard lock{mu_};
  return sessions_.erase(id) > 0;
}

std::vector<std::shared_ptr<session>> session_store::all() {
  std::vector<std::shared_ptr<session>> out;
  std::lock_guard lock{mu_};
  for (auto& [id, s] : sessions_)
    out.push_back(s);
  return out;
}

} // namespace cairn::mcp
