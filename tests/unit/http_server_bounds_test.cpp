// SPDX-License-Identifier: Apache-2.0
// The HTTP server's bounds, on real loopback sockets: an event stream whose
// client stops reading, and more connections than the server allows.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "cairn/http.hpp"
#include "http_client.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

/// A raw loopback client socket; closed on destruction.
struct raw_client {
  int fd = -1;

  /// Connects to `port`; a small receive buffer makes a client that does
  /// not read fall behind quickly.
  explicit raw_client(uint16_t port, int rcvbuf = 0) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    if (rcvbuf > 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    // A liveness bound on every read: a hung server fails the test.
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void close() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }

  void send_all(const std::string& s) {
    REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
  }

  /// Everything the server sends until it closes (or the read bound passes:
  /// then `closed` stays false).
  std::string read_to_end() {
    std::string out;
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      closed = n == 0;
      if (n <= 0)
        break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  bool closed = false; ///< the last `read_to_end` ended as the server closed
};

} // namespace

TEST_CASE("an event stream whose client stops reading is closed at its bound, not buffered",
          "[http][sse][bounds]") {
  constexpr size_t bound = 64 * 1024;
  std::mutex mu;
  std::shared_ptr<http_stream> events;
  std::atomic<bool> ended{false};
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [&](const http_request& req, http_responder respond) {
    http_response r;
    if (req.target == "/big") {
      // One event larger than the bound, to a client that reads.
      auto s = std::make_shared<http_stream>(bound);
      s->write("data: " + std::string(4 * bound, 'y') + "\n\n");
      s->close();
      r.content_type = "text/event-stream";
      r.stream = s;
    } else if (req.target == "/events") {
      auto s = std::make_shared<http_stream>(bound);
      s->on_end([&ended] { ended.store(true); });
      {
        std::lock_guard lock{mu};
        events = s;
      }
      r.content_type = "text/event-stream";
      r.stream = s;
    } else {
      r.content_type = "text/plain";
      r.body = "still here";
    }
    respond(std::move(r));
  });
  REQUIRE(srv);
  auto overflows_before = http_stream::overflows();

  // The bound is on the backlog: one event larger than it still reaches a
  // client that keeps up.
  auto big = test::http_call((*srv)->port(), "GET", "/big");
  CHECK(big.status == 200);
  CHECK(big.body.find(std::string(4 * bound, 'y')) != std::string::npos);
  CHECK(http_stream::overflows() == overflows_before);

  // A client opens the stream and never reads a byte.
  raw_client sleeper{(*srv)->port(), 4096};
  sleeper.send_all("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
  REQUIRE(test::eventually([&] {
    std::lock_guard lock{mu};
    return events != nullptr;
  }));

  // The server produces far more than the socket buffers and the bound can
  // hold (64 MiB at most); the queue never passes the bound by more than
  // one event, and the write after that ends the stream.
  const std::string event = "data: " + std::string(1018, 'x') + "\n\n"; // 1 KiB
  size_t written = 0, most_queued = 0;
  bool refused = false;
  for (int i = 0; i < 64 * 1024 && !refused; ++i) {
    refused = !events->write(event);
    if (!refused)
      written += event.size();
    most_queued = std::max(most_queued, events->queued_bytes());
  }
  INFO("accepted " << written << " bytes before the stream ended");
  CHECK(refused);
  CHECK(most_queued < bound + event.size());
  CHECK_FALSE(events->open());
  CHECK(http_stream::overflows() == overflows_before + 1);
  CHECK(test::eventually([&] { return ended.load(); }));
  CHECK_FALSE(events->write(event)); // ended for good

  // The connection is gone (the server closed it) and others are served.
  CHECK(test::eventually([&] { return (*srv)->connections() == 0; }));
  auto other = test::http_call((*srv)->port(), "GET", "/other");
  CHECK(other.status == 200);
  CHECK(other.body == "still here");
}

TEST_CASE("connections past max_connections get 503 and close, a client is served once idle ones "
          "close",
          "[http][bounds]") {
  http_server_options opts;
  opts.port = 0;
  opts.max_connections = 4;
  auto srv = http_server::start(opts, [](const http_request&, http_responder respond) {
    respond(http_response{200, "text/plain", "served", {}, nullptr});
  });
  REQUIRE(srv);
  auto port = (*srv)->port();

  // Idle connections up to the cap: accepted and held.
  std::vector<std::unique_ptr<raw_client>> idle;
  for (size_t i = 0; i < opts.max_connections; ++i)
    idle.push_back(std::make_unique<raw_client>(port));
  REQUIRE(test::eventually([&] { return (*srv)->connections() == opts.max_connections; }));

  // More: each is told 503 with Retry-After, then closed.
  for (int i = 0; i < 3; ++i) {
    raw_client extra{port};
    auto answer = extra.read_to_end();
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(answer.find("Retry-After: 1") != std::string::npos);
    CHECK(answer.find("too_many_connections") != std::string::npos);
  }
  CHECK((*srv)->refused_connections() == 3);
  auto refused = test::http_call(port, "GET", "/work");
  CHECK(refused.status == 503);
  CHECK((*srv)->connections() == opts.max_connections);

  // Once the idle ones close, a normal client is served again.
  idle.clear();
  REQUIRE(test::eventually([&] { return (*srv)->connections() == 0; }));
  auto served = test::http_call(port, "GET", "/work");
  CHECK(served.status == 200);
  CHECK(served.body == "served");
}

TEST_CASE("a handler answers from another thread, later, on a kept-alive connection, and one that "
          "drops its responder or throws gets 500 instead of a connection that waits forever",
          "[http][answers]") {
  std::mutex mu;
  std::vector<std::thread> answering;
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [&](const http_request& req, http_responder respond) {
    if (req.target == "/later") {
      std::lock_guard<std::mutex> guard{mu};
      answering.emplace_back([respond = std::move(respond)] {
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
        respond(http_response{200, "text/plain", "later", {}, nullptr});
      });
      return;
    }
    if (req.target == "/dropped")
      return; // the responder goes out of scope unanswered
    if (req.target == "/throws")
      throw std::runtime_error("handler failed");
    respond(http_response{200, "text/plain", "now", {}, nullptr});
  });
  REQUIRE(srv);
  auto port = (*srv)->port();

  // Three requests on one connection, the middle one answered by a thread.
  raw_client c{port};
  c.send_all("GET /now HTTP/1.1\r\nHost: x\r\n\r\nGET /later HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto all = c.read_to_end();
  INFO(all);
  auto first = all.find("\r\n\r\nnow");
  auto second = all.find("\r\n\r\nlater");
  auto third = all.find("\r\n\r\nnow", first + 1);
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(third != std::string::npos);
  CHECK(first < second);
  CHECK(second < third);

  for (const char* target : {"/dropped", "/throws"}) {
    auto r = test::http_call(port, "GET", target);
    INFO(target << ": " << r.body);
    CHECK(r.status == 500);
    CHECK(r.body.find("the node failed to answer this request") != std::string::npos);
  }
  // The connection is served again afterwards.
  CHECK(test::http_call(port, "GET", "/now").body == "now");
  (*srv)->stop();
  for (auto& t : answering)
    t.join();
}

TEST_CASE("many kept-alive connections answered from other threads in random order each get their "
          "own answers, in their own order",
          "[http][answers]") {
  // Connections are spread over the I/O threads; answers come from four
  // other threads, each after a seeded random delay, so answers for
  // different connections race into each thread's context.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, http_responder>> work;
  bool done = false;
  std::vector<std::thread> answering;
  for (unsigned t = 0; t < 4; ++t)
    answering.emplace_back([&, t] {
      std::mt19937 rng{t + 7};
      for (;;) {
        std::pair<std::string, http_responder> job;
        {
          std::unique_lock<std::mutex> lock{mu};
          cv.wait(lock, [&] { return done || !work.empty(); });
          if (work.empty())
            return;
          job = std::move(work.front());
          work.pop_front();
        }
        std::this_thread::sleep_for(std::chrono::microseconds{rng() % 500});
        job.second(http_response{200, "text/plain", "answer " + job.first, {}, nullptr});
      }
    });
  http_server_options opts;
  opts.port = 0;
  opts.threads = 2;
  auto srv = http_server::start(opts, [&](const http_request& req, http_responder respond) {
    {
      std::lock_guard<std::mutex> lock{mu};
      work.emplace_back(req.target.substr(1), std::move(respond));
    }
    cv.notify_one();
  });
  REQUIRE(srv);
  constexpr int connections = 12, requests = 40;
  std::vector<std::string> got(connections);
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c)
    clients.emplace_back([&, c] {
      raw_client client{(*srv)->port()};
      std::string all;
      for (int r = 0; r < requests; ++r)
        all += "GET /" + std::to_string(c) + "-" + std::to_string(r) + " HTTP/1.1\r\nHost: x\r\n"
               + (r + 1 == requests ? "Connection: close\r\n" : "") + "\r\n";
      client.send_all(all);
      got[c] = client.read_to_end();
    });
  for (auto& t : clients)
    t.join();
  for (int c = 0; c < connections; ++c) {
    size_t at = 0;
    for (int r = 0; r < requests; ++r) {
      auto want = "\r\n\r\nanswer " + std::to_string(c) + "-" + std::to_string(r);
      auto pos = got[c].find(want, at);
      INFO("connection " << c << ", request " << r);
      REQUIRE(pos != std::string::npos);
      at = pos + want.size();
    }
  }
  (*srv)->stop();
  {
    std::lock_guard<std::mutex> lock{mu};
    done = true;
  }
  cv.notify_all();
  for (auto& t : answering)
    t.join();
}

TEST_CASE("deadlines cut off a slow request and an idle kept-alive connection, never a request "
          "whose handler is still working",
          "[http][timeouts]") {
  std::mutex mu;
  std::vector<std::thread> answering;
  http_server_options opts;
  opts.port = 0;
  opts.read_timeout = std::chrono::seconds{1};
  opts.idle_timeout = std::chrono::seconds{1};
  auto srv = http_server::start(opts, [&](const http_request& req, http_responder respond) {
    if (req.target == "/slow") { // answered after twice the read timeout
      std::lock_guard<std::mutex> guard{mu};
      answering.emplace_back([respond = std::move(respond)] {
        std::this_thread::sleep_for(std::chrono::milliseconds{2'500});
        respond(http_response{200, "text/plain", "slow but here", {}, nullptr});
      });
      return;
    }
    respond(http_response{200, "text/plain", "fast", {}, nullptr});
  });
  REQUIRE(srv);
  auto port = (*srv)->port();

  // A read that ends by the server closing returns 0; one that ends by the
  // client's own bound (30 s) returns -1.
  auto closed_by_server = [](raw_client& c) {
    char b;
    return ::recv(c.fd, &b, 1, 0) == 0;
  };
  // Half a request, then silence: closed by the server, unanswered.
  raw_client half{port};
  half.send_all("GET /x HTTP/1.1\r\nHost: x\r\n");
  CHECK(half.read_to_end().empty());
  CHECK(closed_by_server(half));

  // One answer, then an idle keep-alive connection: closed by the server.
  raw_client idle{port};
  idle.send_all("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto once = idle.read_to_end();
  CHECK(once.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(once.find("fast") != std::string::npos);
  CHECK(closed_by_server(idle));

  // A handler slower than the read timeout still answers.
  auto slow = test::http_call(port, "GET", "/slow");
  CHECK(slow.status == 200);
  CHECK(slow.body == "slow but here");
  CHECK((*srv)->connections() <= 1);
  (*srv)->stop();
  for (auto& t : answering)
    t.join();
}

TEST_CASE("an answer given, or a responder dropped, after the server was stopped and destroyed "
          "goes nowhere, harmlessly",
          "[http][answers]") {
  // A node stops its HTTP server before the parts that may still hold a
  // request's responder (an MCP call in flight, its timeout).
  std::mutex mu;
  std::vector<http_responder> kept;
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [&](const http_request&, http_responder respond) {
    std::lock_guard<std::mutex> guard{mu};
    kept.push_back(std::move(respond));
  });
  REQUIRE(srv);
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<raw_client>((*srv)->port()));
    clients.back()->send_all("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  REQUIRE(test::eventually([&] {
    std::lock_guard<std::mutex> guard{mu};
    return kept.size() == 4;
  }));
  srv->reset(); // stopped and destroyed, four requests unanswered
  for (auto* c : {clients[0].get(), clients[1].get()}) {
    CHECK(c->read_to_end().empty());
    CHECK(c->closed); // closed by the stop, not left open until the read bound
  }
  kept[0](http_response{200, "text/plain", "too late", {}, nullptr});
  kept[1](http_response{200, "text/plain", "too late", {}, nullptr});
  kept.clear(); // the other two dropped unanswered
  CHECK(kept.empty());
}

TEST_CASE("an event stream written to or closed after the server was stopped and destroyed goes "
          "nowhere, harmlessly",
          "[http][sse]") {
  std::mutex mu;
  std::shared_ptr<http_stream> events;
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [&](const http_request&, http_responder respond) {
    auto s = std::make_shared<http_stream>();
    {
      std::lock_guard<std::mutex> guard{mu};
      events = s;
    }
    http_response r{200, "text/event-stream", {}, {}, nullptr};
    r.stream = s;
    respond(std::move(r));
  });
  REQUIRE(srv);
  raw_client client{(*srv)->port()};
  client.send_all("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(test::eventually([&] {
    std::lock_guard<std::mutex> guard{mu};
    return events != nullptr;
  }));
  CHECK(events->write("data: before\n\n"));
  srv->reset(); // the stream still open and held here
  events->write("data: after\n\n");
  events->close();
  events.reset();
  auto got = client.read_to_end();
  INFO(got);
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(got.find("after") == std::string::npos);
  CHECK(client.closed); // by the stop
}

TEST_CASE("bodies arrive whole at any size, sent at once, in pieces or chunked, with requests "
          "pipelined behind them",
          "[http][bodies]") {
  // Each answer names the body it got: its size and a hash of its bytes.
  auto digest = [](const std::string& body) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : body)
      h = (h ^ c) * 1099511628211ull;
    return std::to_string(body.size()) + ":" + std::to_string(h);
  };
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [&](const http_request& req, http_responder respond) {
    respond(http_response{200, "text/plain", digest(req.body), {}, nullptr});
  });
  REQUIRE(srv);
  auto port = (*srv)->port();
  std::mt19937 rng{20261204};
  auto random_body = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng() & 0xff);
    return s;
  };
  auto post = [](const std::string& body, bool close) {
    return "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size())
           + (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
  };
  auto big = random_body(300 * 1024), small = random_body(1), mid = random_body(100 * 1024),
       chunked = random_body(70 * 1024);
  raw_client c{port};
  // A large body with two requests right behind it, in one send.
  c.send_all(post(big, false) + post(small, false) + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  // A body in pieces of 1000 bytes.
  auto pieces = post(mid, false);
  for (size_t at = 0; at < pieces.size(); at += 1000)
    c.send_all(pieces.substr(at, 1000));
  // A chunked body (no length known up front), in chunks of 4 KiB.
  std::string req = "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n";
  for (size_t at = 0; at < chunked.size(); at += 4096) {
    auto part = chunked.substr(at, 4096);
    char len[16];
    std::snprintf(len, sizeof len, "%zx\r\n", part.size());
    req += len + part + "\r\n";
  }
  c.send_all(req + "0\r\n\r\n");
  auto all = c.read_to_end();
  std::vector<std::string> got;
  for (size_t at = all.find("\r\n\r\n"); at != std::string::npos; at = all.find("\r\n\r\n", at)) {
    at += 4;
    auto end = all.find("HTTP/1.1", at);
    got.push_back(all.substr(at, end == std::string::npos ? std::string::npos : end - at));
  }
  CHECK(got
        == std::vector<std::string>{digest(big), digest(small), digest(""), digest(mid),
                                    digest(chunked)});
  (*srv)->stop();
}
