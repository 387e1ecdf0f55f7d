// SPDX-License-Identifier: Apache-2.0
// A connection's plumbing on its I/O thread: the answer a handler sends back
// from any thread, the deadline of the operation it waits on, and the I/O
// context that runs it with the sweeper that enforces those deadlines.
// Included by http_server.cpp only (it includes Asio and Beast).
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "cairn/http.hpp"

namespace cairn::http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The problems the server answers itself (before any handler), shaped like
// the node API's (runtime/api's problem()): type, title, status, code,
// detail. `code` is a fixed identifier; `detail` is escaped.
inline std::string problem(unsigned status, std::string_view code, std::string_view detail) {
  std::string escaped;
  for (char c : detail) {
    if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      escaped += ' ';
    } else {
      escaped += c;
    }
  }
  return "{\"type\":\"about:blank\",\"title\":\"" + std::string{code}
         + "\",\"status\":" + std::to_string(status) + ",\"code\":\"" + std::string{code}
         + "\",\"detail\":\"" + escaped + "\"}";
}

/// A handler's answer on its way back to the session waiting for it. The
/// responder may run on any thread: it posts the waiting coroutine's
/// completion, with the response, to that coroutine's executor (the
/// I/O context of its connection), one hand-off and no timer. A responder dropped
/// without answering answers 500, so no connection waits for a lost answer.
template <class Completion>
class pending_answer {
public:
  /// `keep` holds the connection's I/O context alive: an answer that comes
  /// (or a responder dropped) after the server stopped still posts to a
  /// live, stopped context, and the coroutine is destroyed with it.
  pending_answer(Completion c, std::shared_ptr<void> keep)
    : keep_(std::move(keep)), completion_(std::move(c)) {}
  pending_answer(const pending_answer&) = delete;
  pending_answer& operator=(const pending_answer&) = delete;

  ~pending_answer() {
    if (!answered_.load(std::memory_order_relaxed))
      complete(http_response{500,
                             "application/problem+json",
                             problem(500, "internal", "the node failed to answer this request"),
                             {},
                             nullptr});
  }

  /// The first call answers; later ones are ignored.
  void complete(http_response r) {
    if (answered_.exchange(true))
      return;
    auto ex = asio::get_associated_executor(*completion_);
    asio::post(ex, [c = std::move(*completion_), r = std::move(r)]() mutable {
      std::move(c)(std::move(r));
    });
  }

private:
  std::atomic<bool> answered_{false};
  std::shared_ptr<void> keep_; // destroyed after the completion
  std::optional<Completion> completion_;
};

using steady = std::chrono::steady_clock;

/// A connection's deadline for the operation it waits on. Its context's
/// sweeper cancels the socket's operations once the deadline passes: one
/// timer per thread instead of one armed and cancelled per read and write.
/// Set before an operation, cleared after it (a handler's work has no
/// deadline here).
struct deadline {
  tcp::socket* socket = nullptr;
  steady::time_point due = steady::time_point::max();

  void expires_after(steady::duration d) { due = steady::now() + d; }
  void expires_never() { due = steady::time_point::max(); }
};

/// One I/O context and its thread's connections' deadlines. Declared
/// before the context, the list outlives it: connections destroyed with
/// the context still unregister.
struct context_slot {
  std::weak_ptr<context_slot> self; // what answers in flight hold (pending_answer)
  std::list<deadline*> watched;
  asio::io_context ioc{1}; // one thread runs it
  asio::executor_work_guard<asio::io_context::executor_type> keep_running{
    asio::make_work_guard(ioc)};

  /// Cancels the operations of connections whose deadline passed; checks
  /// four times a second, so a timeout ends up to 250 ms late.
  asio::awaitable<void> sweep() {
    asio::steady_timer tick{ioc};
    for (;;) {
      tick.expires_after(std::chrono::milliseconds{250});
      auto [ec] = co_await tick.async_wait(use_tuple);
      if (ec)
        co_return;
      auto now = steady::now();
      for (auto* d : watched)
        if (d->due <= now) {
          d->due = steady::time_point::max();
          beast::error_code ignored;
          d->socket->cancel(ignored);
        }
    }
  }
};

/// Registers a connection's deadline with its context for its lifetime
/// (both on that context's thread).
class watched_socket {
public:
  watched_socket(context_slot& slot, tcp::socket& socket) : slot_(slot) {
    d_.socket = &socket;
    at_ = slot_.watched.insert(slot_.watched.end(), &d_);
  }
  ~watched_socket() { slot_.watched.erase(at_); }
  watched_socket(const watched_socket&) = delete;
  watched_socket& operator=(const watched_socket&) = delete;
  deadline& get() { return d_; }

private:
  context_slot& slot_;
  deadline d_;
  std::list<deadline*>::iterator at_;
};

} // namespace cairn::http_detail
