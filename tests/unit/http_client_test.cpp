// SPDX-License-Identifier: Apache-2.0
// The HTTP client against the node's own HTTP server and a silent peer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "cairn/http.hpp"
#include "cairn/http_client.hpp"

using namespace cairn;

namespace {

std::unique_ptr<http_server> echo_server() {
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [](const http_request& req, http_responder respond) {
    http_response r;
    r.status = req.target == "/missing" ? 404 : 200;
    r.content_type = "text/plain";
    r.body = req.method + " " + req.target + " " + req.header("x-probe") + " " + req.body;
    r.headers.emplace_back("X-Answer", "42");
    respond(std::move(r));
  });
  REQUIRE(srv);
  return std::move(*srv);
}

/// A loopback socket that accepts connections (in the kernel's backlog) and
/// never answers.
struct silent_peer {
  int fd = -1;
  uint16_t port = 0;
  silent_peer() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 8) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~silent_peer() { close(fd); }
};

http_client_request to(uint16_t port, std::string target) {
  http_client_request req;
  req.host = "127.0.0.1";
  req.port = std::to_string(port);
  req.target = std::move(target);
  return req;
}

} // namespace

TEST_CASE("an HTTP request gets the status, headers and body of the answer", "[http_client]") {
  auto srv = echo_server();
  auto req = to(srv->port(), "/echo?a=1");
  req.method = "POST";
  req.headers.emplace_back("X-Probe", "p1");
  req.body = "hello";
  auto r = http_fetch(req);
  REQUIRE(r.failure == http_client_failure::none);
  CHECK(r.status == 200);
  CHECK(r.header("x-answer") == "42");
  CHECK(r.header("X-ANSWER") == "42");
  CHECK(r.body == "POST /echo?a=1 p1 hello");
  auto missing = http_fetch(to(srv->port(), "/missing"));
  CHECK(missing.failure == http_client_failure::none);
  CHECK(missing.status == 404);
}

TEST_CASE("a refused connection is a connect failure with the system's reason", "[http_client]") {
  uint16_t port = 0;
  {
    auto srv = echo_server();
    port = srv->port();
    srv->stop();
  }
  auto r = http_fetch(to(port, "/"));
  CHECK(r.failure == http_client_failure::connect);
  CHECK(r.error == "Connection refused");
}

TEST_CASE("a peer that never answers ends the request at its deadline", "[http_client]") {
  silent_peer peer;
  auto req = to(peer.port, "/");
  req.timeout = std::chrono::milliseconds{300};
  auto r = http_fetch(req);
  CHECK(r.failure == http_client_failure::timeout);
  CHECK(r.error == "no answer within 300 ms");
}

TEST_CASE("a cancelled request ends without waiting for its deadline", "[http_client]") {
  silent_peer peer;
  auto req = to(peer.port, "/");
  req.timeout = std::chrono::minutes{10}; // the test would hang, not pass, if cancel failed
  std::atomic<int> polls{0};
  req.cancelled = [&] { return ++polls > 2; };
  auto r = http_fetch(req);
  CHECK(r.failure == http_client_failure::cancelled);
  CHECK(polls.load() == 3);
}

TEST_CASE("an answer over the body limit fails the read", "[http_client]") {
  auto srv = echo_server();
  auto req = to(srv->port(), "/echo");
  req.method = "POST";
  req.body = std::string(4096, 'x');
  req.body_limit = 100;
  auto r = http_fetch(req);
  CHECK(r.failure == http_client_failure::read);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("a streamed answer hands over its head first, then each piece as it arrives",
          "[http_client]") {
  // The server writes its second piece only once the client has seen the
  // first: a client that waited for the whole body would never get it.
  auto seen_first = std::make_shared<std::atomic<bool>>(false);
  http_server_options opts;
  opts.port = 0;
  auto srv = http_server::start(opts, [seen_first](const http_request&, http_responder respond) {
    auto stream = std::make_shared<http_stream>();
    http_response r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("X-Answer", "42");
    r.stream = stream;
    respond(std::move(r));
    stream->write("data: one\n\n");
    std::thread{[stream, seen_first] {
      for (int i = 0; i < 30'000 && !seen_first->load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
      stream->write("data: two\n\n");
      stream->close();
    }}.detach();
  });
  REQUIRE(srv);
  auto req = to((*srv)->port(), "/stream");
  std::vector<std::string> calls;
  req.on_body = [&](const http_client_response& head, std::string_view data) {
    if (calls.empty()) {
      CHECK(head.status == 200);
      CHECK(head.header("x-answer") == "42");
      CHECK(data.empty());
    }
    calls.emplace_back(data);
    std::string all;
    for (const auto& c : calls)
      all += c;
    if (all.find("data: one\n\n") != std::string::npos)
      seen_first->store(true);
  };
  auto r = http_fetch(req);
  REQUIRE(r.failure == http_client_failure::none);
  CHECK(r.status == 200);
  CHECK(r.body.empty()); // handed over, not collected
  std::string all;
  for (const auto& c : calls)
    all += c;
  CHECK(all == "data: one\n\ndata: two\n\n");
  CHECK(seen_first->load());
}
