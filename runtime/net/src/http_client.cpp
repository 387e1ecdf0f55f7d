// SPDX-License-Identifier: Apache-2.0
// The one HTTP client of the node and the CLI: asynchronous Beast on a
// private io_context, driven in slices between deadline and cancel checks.
#include "cairn/http_client.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cairn {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x))
                  == std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

std::string http_client_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (same_name(k, name))
      return v;
  return {};
}

http_client_response http_fetch(const http_client_request& r) {
  namespace beast = boost::beast;
  namespace asio = boost::asio;
  namespace http = beast::http;
  http_client_response out;
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver{ioc};
  beast::tcp_stream stream{ioc};
  http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
  if (req.method() == http::verb::unknown)
    req.method_string(r.method);
  req.set(http::field::host, r.host + ":" + r.port);
  for (const auto& [name, value] : r.headers)
    req.set(name, value);
  req.body() = r.body;
  if (!r.body.empty() || req.method() == http::verb::post || req.method() == http::verb::put)
    req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  if (r.body_limit)
    parser.body_limit(*r.body_limit);
  else
    parser.body_limit(boost::none);
  beast::error_code ec;
  auto stage = http_client_failure::resolve;
  bool done = false;
  auto finish = [&](beast::error_code e) {
    ec = e;
    done = true;
  };
  // A streamed answer's deadline moves with each piece that arrives.
  auto idle_since = std::chrono::steady_clock::now();
  std::function<void()> read_more = [&] {
    if (parser.is_done())
      return finish({});
    stream.expires_after(r.timeout);
    http::async_read_some(stream, buffer, parser, [&](beast::error_code e, size_t) {
      idle_since = std::chrono::steady_clock::now();
      if (auto& piece = parser.get().body(); !piece.empty()) {
        r.on_body(out, piece);
        piece.clear();
      }
      if (e)
        return finish(e);
      read_more();
    });
  };
  auto read_head = [&] {
    http::async_read_header(stream, buffer, parser, [&](beast::error_code e, size_t) {
      if (e)
        return finish(e);
      idle_since = std::chrono::steady_clock::now();
      const auto& res = parser.get();
      out.status = static_cast<int>(res.result_int());
      for (const auto& f : res)
        out.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
      r.on_body(out, {});
      read_more();
    });
  };
  stream.expires_after(r.timeout); // one deadline for connect, write and read
  resolver.async_resolve(r.host, r.port, [&](beast::error_code e, auto results) {
    if (e)
      return finish(e);
    stage = http_client_failure::connect;
    stream.async_connect(results, [&](beast::error_code e2, auto) {
      if (e2)
        return finish(e2);
      stage = http_client_failure::write;
      http::async_write(stream, req, [&](beast::error_code e3, size_t) {
        if (e3)
          return finish(e3);
        stage = http_client_failure::read;
        if (r.on_body)
          return read_head();
        http::async_read(stream, buffer, parser, [&](beast::error_code e4, size_t) { finish(e4); });
      });
    });
  });
  auto deadline = std::chrono::steady_clock::now() + r.timeout + std::chrono::seconds{1};
  while (!done) {
    if (r.on_body)
      deadline = std::max(deadline, idle_since + r.timeout + std::chrono::seconds{1});
    if (r.cancelled && r.cancelled()) {
      ioc.stop();
      out.failure = http_client_failure::cancelled;
      out.error = "cancelled";
      return out;
    }
    if (std::chrono::steady_clock::now() >= deadline) { // a resolve that never returns
      ioc.stop();
      out.failure = http_client_failure::timeout;
      out.error = "no answer within " + std::to_string(r.timeout.count()) + " ms";
      return out;
    }
    ioc.run_for(std::chrono::milliseconds{100});
    if (ioc.stopped() && !done)
      ioc.restart();
  }
  if (ec == beast::error::timeout) {
    out.failure = http_client_failure::timeout;
    out.error = "no answer within " + std::to_string(r.timeout.count()) + " ms";
    return out;
  }
  if (ec) {
    out.failure = stage;
    out.error = ec.message();
    return out;
  }
  if (r.on_body)
    return out; // status and headers were filled when they came
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
  out.body = std::move(res.body());
  return out;
}

} // namespace cairn
