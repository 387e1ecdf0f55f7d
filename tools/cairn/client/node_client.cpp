// SPDX-License-Identifier: Apache-2.0
#include "client/node_client.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cairn::cli {

namespace {

constexpr int timeout_ms = 30'000;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

} // namespace

std::string reply::header(const std::string& name) const {
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

std::string encode_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

node_client::node_client(std::string url, std::string token)
  : url_(std::move(url)), token_(std::move(token)) {
  const std::string scheme = "http://";
  if (url_.rfind(scheme, 0) != 0) {
    parse_error_ = "node URL '" + url_ + "' must start with http://";
    return;
  }
  auto rest = url_.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) {
    host_ = rest;
    port_ = "80";
  } else {
    host_ = rest.substr(0, colon);
    port_ = rest.substr(colon + 1);
  }
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']')
    host_ = host_.substr(1, host_.size() - 2);
  if (host_.empty())
    parse_error_ = "node URL '" + url_ + "' has no host";
}

reply node_client::call(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& content_type) const {
  std::vector<std::string> headers;
  if (!token_.empty())
    headers.push_back("Authorization: Bearer " + token_);
  if (!body.empty() || method == "POST")
    headers.push_back("Content-Type: " + content_type);
  return call_with_headers(method, path, body, headers);
}

reply node_client::call_with_headers(const std::string& method, const std::string& path,
                                     const std::string& body,
                                     const std::vector<std::string>& header_lines) const {
  std::string req =
    method + " " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n";
  for (const auto& h : header_lines)
    req += h + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  reply r;
  auto raw = exchange(req, timeout_ms, r.error);
  if (!r.error.empty())
    return r;
  auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || split == std::string::npos || raw.size() < 12) {
    r.error = "the node at " + url_ + " sent no HTTP answer";
    return r;
  }
  r.status = std::atoi(raw.substr(9, 3).c_str());
  r.headers = raw.substr(0, split + 2);
  r.body = raw.substr(split + 4);
  return r;
}

std::string node_client::exchange(const std::string& raw, int wait_ms, std::string& error) const {
  if (!parse_error_.empty()) {
    error = parse_error_;
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + host_ + ": " + gai_strerror(rc);
    return {};
  }
  int fd = -1;
  std::string last_error = "no address";
  for (auto* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    error = "cannot reach the node at " + url_ + ": " + last_error;
    return {};
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    auto n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[16384];
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{wait_ms};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
      error = "the node at " + url_ + " did not answer in time";
      break;
    }
    auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

} // namespace cairn::cli
