// SPDX-License-Identifier: Apache-2.0
#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace cairn::test {

namespace {

int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

} // namespace

std::string http_reply::header(const std::string& name) const {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  auto h = lower(headers);
  auto pos = h.find("\r\n" + lower(name) + ":");
  if (pos == std::string::npos)
    return {};
  auto start = pos + 2 + name.size() + 1;
  auto end = headers.find("\r\n", start);
  auto v = headers.substr(start, end - start);
  v.erase(0, v.find_first_not_of(' '));
  return v;
}

std::string raw_exchange(uint16_t port, const std::string& raw, int wait_ms) {
  int fd = connect_loopback(port);
  if (fd < 0)
    return {};
  size_t sent = 0;
  while (sent < raw.size()) {
    auto n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[8192];
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{wait_ms};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0)
      break;
    auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

http_reply http_call(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body, const std::vector<std::string>& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : extra_headers)
    req += h + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto raw = raw_exchange(port, req);
  http_reply r;
  auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos)
    return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, split + 2);
  r.body = raw.substr(split + 4);
  return r;
}

uint16_t port_from_banner(const std::string& output) {
  auto pos = output.find("ready: http://127.0.0.1:");
  if (pos == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoul(output.substr(pos + 24)));
}

} // namespace cairn::test
