// SPDX-License-Identifier: Apache-2.0
// The Beast adapter: the only file that includes Beast and Asio.
#include "cairn/http.hpp"

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "internal/http_connection.hpp"
#include "internal/http_stream_state.hpp"

namespace cairn {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string http_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name)
      return v;
  return {};
}

using namespace http_detail; // the connection's plumbing: internal/http_connection.hpp

struct http_server::impl {
  http_server_options opts;
  // One I/O context per thread, each run by its thread alone: a
  // connection lives on one of them, so its coroutine and the answers
  // posted to it never run at the same time without a strand (a strand's
  // type-erased hand-offs were 8 % of the I/O threads' time under MCP load).
  // Shared with the answers in flight, which may outlive the server.
  std::vector<std::shared_ptr<context_slot>> contexts;
  size_t next_context = 0; // round robin, touched by the accepting coroutine only
  // After `contexts`, so destroyed before them: a handler that answers from
  // threads of its own (and joins them when destroyed) never posts to a dead
  // context.
  http_handler handler;
  std::optional<tcp::acceptor> acceptor; // on contexts[0]
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<bool> at_cap{false}; // for one log line per time the cap is reached
  // Refusals being written; past this many a connection is closed unanswered,
  // so a flood of connections cannot pile up refusals either.
  static constexpr size_t max_refusing = 64;
  // The most a connection's read buffer grows to for a large body (Beast
  // reads at most 64 KiB at a time anyway); past `small_read` it shrinks
  // again once the request is answered.
  static constexpr size_t max_read = 64 * 1024;
  static constexpr size_t small_read = 4096;
  std::atomic<size_t> refusing{0};

  asio::awaitable<void> refuse(tcp::socket socket, context_slot& slot);

  asio::awaitable<void> session(tcp::socket socket, context_slot& slot);
  asio::awaitable<http_response> answer(const http_request& req, context_slot& slot);
  asio::awaitable<bool> stream_body(tcp::socket& stream, deadline& timer, context_slot& slot,
                                    beast::flat_buffer& buffer, const http_response& res,
                                    unsigned version, bool keep_alive);
  asio::awaitable<void> listen();
};

asio::awaitable<void> http_server::impl::session(tcp::socket socket, context_slot& slot) {
  auto& stream = socket;
  watched_socket watch{slot, socket};
  auto& timer = watch.get();
  beast::flat_buffer buffer;
  bool first = true;
  bool linger = false;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts.body_limit);
    parser.header_limit(static_cast<uint32_t>(opts.header_limit));
    timer.expires_after(first ? opts.read_timeout : opts.idle_timeout);
    first = false;
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec && !parser.is_done()) {
      // What came with the header (all of a small request) is parsed here,
      // not through another read.
      parser.eager(true);
      buffer.consume(parser.put(buffer.data(), ec));
      if (ec == http::error::need_more)
        ec = {};
    }
    if (!ec && !parser.is_done()) {
      // The buffer holds what one read takes: left at its first 512 bytes, a
      // batch of 200 KB took 400 reads, each with a pass through the reactor.
      if (auto len = parser.content_length(); len && *len > buffer.capacity() - buffer.size())
        buffer.reserve(buffer.size() + static_cast<size_t>(std::min<uint64_t>(*len, max_read)));
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
    }
    timer.expires_never();
    http_response res;
    bool keep_alive = false;
    bool refused_read = ec && ec != http::error::end_of_stream; // body or headers refused
    unsigned version = 11;
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset
        || ec == asio::error::operation_aborted) {
      break; // the client left, or sent nothing in time (its deadline cancelled the read)
    } else if (ec == http::error::body_limit) {
      res.status = 413;
      res.content_type = "application/problem+json";
      res.body = problem(413, "payload_too_large",
                         "request body exceeds " + std::to_string(opts.body_limit) + " bytes");
    } else if (ec == http::error::header_limit) {
      res.status = 431;
      res.content_type = "application/problem+json";
      res.body = problem(431, "headers_too_large", "request headers are too large");
    } else if (!ec
               && static_cast<size_t>(std::distance(parser.get().begin(), parser.get().end()))
                    > opts.max_header_count) {
      res.status = 431;
      res.content_type = "application/problem+json";
      res.body = problem(431, "headers_too_large",
                         "more than " + std::to_string(opts.max_header_count) + " header fields");
    } else if (ec) {
      res.status = 400;
      res.content_type = "application/problem+json";
      res.body = problem(400, "bad_request", "malformed HTTP request: " + ec.message());
    } else {
      auto& msg = parser.get();
      version = msg.version();
      keep_alive = msg.keep_alive();
      http_request req;
      req.method = std::string{msg.method_string()};
      req.target = std::string{msg.target()};
      for (const auto& field : msg) {
        std::string name{field.name_string()};
        for (auto& c : name) // ASCII only: field names are tokens (RFC 9110)
          c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        req.headers.emplace_back(std::move(name), std::string{field.value()});
      }
      req.body = std::move(msg.body());
      res = co_await answer(req, slot);
    }
    if (res.stream) {
      if (!co_await stream_body(stream, timer, slot, buffer, res, version, keep_alive)
          || !keep_alive)
        break;
      continue;
    }
    http::response<http::string_body> out{static_cast<http::status>(res.status), version};
    out.set(http::field::server, "cairn");
    out.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers)
      out.set(k, v);
    out.keep_alive(keep_alive);
    out.body() = std::move(res.body);
    out.prepare_payload();
    timer.expires_after(opts.read_timeout);
    auto [wec, wn] = co_await http::async_write(stream, out, use_tuple);
    timer.expires_never();
    if (buffer.capacity() > small_read)
      buffer
        .shrink_to_fit(); // a kept-alive connection holds a large buffer only while it reads a body
    if (wec || !keep_alive) {
      linger = !wec && refused_read;
      break;
    }
  }
  beast::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  if (linger) {
    // A client still sending a refused body (413) would get a reset on close
    // and lose the answer with it: drain what it sends, bounded in time and
    // bytes, before closing (a lingering close).
    timer.expires_after(std::chrono::seconds{2});
    std::array<char, 16384> sink;
    size_t drained = 0;
    while (drained < 4 * opts.body_limit + (1 << 20)) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (rec)
        break;
      drained += rn;
    }
  }
}

// The handler answers through a callback that may run on another thread;
// the session waits for it (pending_answer). Not a coroutine, and not
// written inside the session's co_await expression: GCC 12 destroys the
// captures of a lambda made in a co_await expression twice, and a capture
// that owns something (a shared_ptr) then frees it twice, corrupting the
// heap: a timing build that captured shared_ptrs here answered 404 to
// requests whose target had changed under them (scripts/check-coroutines.py).
asio::awaitable<http_response> http_server::impl::answer(const http_request& req,
                                                         context_slot& slot) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(http_response)>(
    [this, &req, &slot](auto completion) {
      auto pending = std::make_shared<pending_answer<decltype(completion)>>(std::move(completion),
                                                                            slot.self.lock());
      try {
        handler(req, [pending](http_response r) { pending->complete(std::move(r)); });
      } catch (const std::exception& e) {
        spdlog::error("http handler for {} {} threw: {}", req.method, req.target, e.what());
        pending->complete(
          http_response{500,
                        "application/problem+json",
                        problem(500, "internal", "the node failed to answer this request"),
                        {},
                        nullptr});
      }
    },
    asio::use_awaitable);
}

// Writes a streamed body as chunks as the handler queues them. While
// nothing is queued, a comment line every 15 s finds clients that left.
asio::awaitable<bool> http_server::impl::stream_body(tcp::socket& stream, deadline& timer,
                                                     context_slot& slot, beast::flat_buffer& buffer,
                                                     const http_response& res, unsigned version,
                                                     bool keep_alive) {
  using namespace asio::experimental::awaitable_operators;
  auto st = res.stream->state_;
  auto exec = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(exec, asio::steady_timer::time_point::max());
  // Set false (on this connection's thread) when this function returns: an abort posted
  // later must not touch a connection that moved on.
  auto alive = std::make_shared<bool>(true);
  {
    // The handler may hold the stream after the server is gone (a node
    // stops its HTTP server first): these reach the context and the timer
    // through weak references, so a late write or close posts nowhere.
    std::weak_ptr<context_slot> where = slot.self;
    std::weak_ptr<asio::steady_timer> timer_of_wake = wake;
    std::lock_guard lock{st->mu};
    st->wake = [where, timer_of_wake] {
      if (auto keep = where.lock())
        asio::post(keep->ioc, [timer_of_wake] {
          if (auto w = timer_of_wake.lock())
            w->cancel();
        });
    };
    st->abort = [where, timer_of_wake, alive, s = &stream] {
      if (auto keep = where.lock())
        asio::post(keep->ioc, [timer_of_wake, alive, s] {
          beast::error_code ignored;
          if (*alive)
            s->cancel(ignored);
          if (auto w = timer_of_wake.lock())
            w->cancel();
        });
    };
  }
  http::response<http::empty_body> head{static_cast<http::status>(res.status), version};
  head.set(http::field::server, "cairn");
  head.set(http::field::content_type, res.content_type);
  head.set(http::field::cache_control, "no-cache");
  for (const auto& [k, v] : res.headers)
    head.set(k, v);
  head.keep_alive(keep_alive);
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  timer.expires_after(opts.read_timeout);
  auto [hec, hn] = co_await http::async_write_header(stream, sr, use_tuple);
  timer.expires_never();
  bool ok = !hec;
  while (ok) {
    std::deque<std::string> batch;
    bool closed = false;
    {
      std::lock_guard lock{st->mu};
      batch.swap(st->queue);
      closed = st->closed;
      if (st->overflowed)
        ok = false; // the client fell behind the bound: drop it
    }
    for (auto& chunk : batch) {
      if (!ok)
        break;
      if (chunk.empty())
        continue;
      timer.expires_after(opts.read_timeout);
      auto [wec, wn] =
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)), use_tuple);
      timer.expires_never();
      {
        std::lock_guard lock{st->mu};
        st->queued -= std::min(st->queued, chunk.size());
      }
      if (wec) {
        ok = false;
        break;
      }
    }
    if (!ok || (closed && batch.empty()))
      break;
    if (!batch.empty())
      continue; // more may have arrived while writing
    // Wait for news, a keep-alive moment, or the client: a client that
    // closes its connection ends the stream at once (its request is
    // cancelled by the handler's on_end).
    wake->expires_after(std::chrono::seconds{15});
    auto got = co_await (wake->async_wait(use_tuple)
                         || stream.async_read_some(buffer.prepare(4096), use_tuple));
    if (got.index() == 1) {
      auto [rec, rn] = std::get<1>(got);
      if (rec) {
        ok = false; // the client left
        break;
      }
      buffer.commit(rn); // a pipelined request: keep it for the next read
      if (buffer.size() > opts.header_limit + opts.body_limit) {
        ok = false; // not a client waiting for events
        break;
      }
      continue;
    }
    auto [tec] = std::get<0>(got);
    if (!tec) { // no news for a while: is the client still there?
      static const std::string ping = ": keep-alive\n\n";
      timer.expires_after(opts.read_timeout);
      auto [pec, pn] =
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(ping)), use_tuple);
      timer.expires_never();
      ok = !pec;
    }
  }
  if (ok) {
    timer.expires_after(opts.read_timeout);
    auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(), use_tuple);
    timer.expires_never();
    ok = !lec;
  }
  {
    std::lock_guard lock{st->mu};
    st->wake = nullptr;
    st->abort = nullptr;
  }
  *alive = false;
  st->finish();
  co_return ok;
}

asio::awaitable<void> http_server::impl::listen() {
  for (;;) {
    // Each connection goes to the next context, its thread's alone.
    auto& slot = *contexts[next_context];
    next_context = (next_context + 1) % contexts.size();
    auto [ec, socket] = co_await acceptor->async_accept(slot.ioc.get_executor(), use_tuple);
    if (ec == asio::error::operation_aborted)
      co_return;
    if (ec)
      continue; // e.g. out of file descriptors: keep serving the others
    auto exec = socket.get_executor();
    if (open.load() >= opts.max_connections) {
      refused.fetch_add(1);
      if (!at_cap.exchange(true))
        spdlog::warn("HTTP: {} connections are open (max_connections); refusing new ones with "
                     "503 until some close",
                     opts.max_connections);
      if (refusing.load() >= max_refusing) {
        beast::error_code ignored;
        socket.close(ignored); // a flood: no answer, just close
        continue;
      }
      refusing.fetch_add(1);
      asio::co_spawn(exec, refuse(std::move(socket), slot),
                     [this](std::exception_ptr) { refusing.fetch_sub(1); });
      continue;
    }
    at_cap.store(false);
    // Counted here, before the next accept, so the cap is exact.
    open.fetch_add(1);
    asio::co_spawn(exec, session(std::move(socket), slot),
                   [this](std::exception_ptr) { open.fetch_sub(1); });
  }
}

// A connection past `max_connections`: a short 503, then close. Why not
// leave it in the kernel's backlog until one closes: a client would wait
// without knowing why, and the backlog is bounded and shared by every client.
asio::awaitable<void> http_server::impl::refuse(tcp::socket socket, context_slot& slot) {
  static const std::string body =
    problem(503, "too_many_connections", "the node has too many open connections; retry later");
  static const std::string answer =
    "HTTP/1.1 503 Service Unavailable\r\nServer: cairn\r\nContent-Type: "
    "application/problem+json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: "
    + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto& stream = socket;
  watched_socket watch{slot, socket};
  auto& timer = watch.get();
  timer.expires_after(opts.read_timeout);
  co_await asio::async_write(stream, asio::buffer(answer), use_tuple);
  // A lingering close, short and bounded: a client whose request we did not
  // read would otherwise get a reset instead of the answer.
  beast::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  timer.expires_after(std::chrono::seconds{1});
  std::array<char, 4096> sink;
  for (int i = 0; i < 16; ++i) {
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (rec)
      break;
  }
  stream.close(ignored);
}

http_server::http_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_server::~http_server() {
  stop();
}

caf::expected<std::unique_ptr<http_server>> http_server::start(http_server_options opts,
                                                               http_handler handler) {
  auto p = std::make_unique<impl>();
  p->opts = opts;
  p->handler = std::move(handler);
  beast::error_code ec;
  auto address = asio::ip::make_address(opts.host, ec);
  if (ec)
    return make_error(errc::invalid_argument,
                      "invalid HTTP host '" + opts.host + "': " + ec.message());
  tcp::endpoint ep{address, opts.port};
  auto n = std::max<size_t>(1, opts.threads);
  for (size_t i = 0; i < n; ++i) {
    p->contexts.push_back(std::make_shared<context_slot>());
    p->contexts.back()->self = p->contexts.back();
  }
  p->acceptor.emplace(p->contexts.front()->ioc);
  auto& acceptor = *p->acceptor;
  acceptor.open(ep.protocol(), ec);
  if (!ec)
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(ep, ec);
  if (!ec)
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(errc::invalid_argument, "cannot listen on " + opts.host + ":"
                                                + std::to_string(opts.port) + ": " + ec.message());
  p->port = acceptor.local_endpoint().port();
  asio::co_spawn(p->contexts.front()->ioc, p->listen(), asio::detached);
  for (auto& slot : p->contexts) {
    asio::co_spawn(slot->ioc, slot->sweep(), asio::detached);
    p->threads.emplace_back([ioc = &slot->ioc] { ioc->run(); });
  }
  return std::unique_ptr<http_server>{new http_server(std::move(p))};
}

uint16_t http_server::port() const {
  return impl_->port;
}

size_t http_server::connections() const {
  return impl_->open.load();
}

uint64_t http_server::refused_connections() const {
  return impl_->refused.load();
}

void http_server::stop() {
  if (!impl_ || impl_->threads.empty())
    return;
  for (auto& slot : impl_->contexts)
    slot->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
  // A connection whose answer is still on its way (its coroutine held by a
  // responder that may outlive the server) is closed now, not when that
  // responder lets go: its client sees the end at once. Its thread is
  // gone, so nothing else touches the socket meanwhile.
  for (auto& slot : impl_->contexts)
    for (auto* d : slot->watched) {
      beast::error_code ignored;
      d->socket->close(ignored);
    }
}

} // namespace cairn
