// SPDX-License-Identifier: Apache-2.0
// Serves the web console's assets (generated into console_assets.cpp from
// runtime/api/console by embed_console.cmake).
#include "cairn/console.hpp"

#include <string_view>

#include "internal/console_assets.hpp"

namespace cairn {

namespace {

// Only the node's own scripts and styles, only its own API; no inline
// script, no framing, no plugins, no form posts elsewhere.
constexpr const char* content_security_policy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

http_response page(unsigned status, std::string type, std::string body) {
  http_response r{status, std::move(type), std::move(body), {}, nullptr};
  r.headers = {{"Content-Security-Policy", content_security_policy},
               {"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

// The host name of a `Host` header, without its port.
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[')
    return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

} // namespace

http_handler refuse_foreign_hosts(http_handler next) {
  return [next = std::move(next)](const http_request& req, http_responder respond) {
    // /mcp checks Host itself and answers in JSON-RPC.
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    auto host = req.header("host");
    auto name = host_name(host);
    if (path != "/mcp" && !name.empty() && name != "localhost" && name != "127.0.0.1"
        && name != "[::1]") {
      http_response r{403, "application/problem+json", {}, {}, nullptr};
      r.body = R"({"type":"about:blank","title":"Forbidden","status":403,"code":"invalid_host",)"
               R"("detail":"this node serves loopback clients only; Host must be localhost, )"
               R"(127.0.0.1 or [::1]"})";
      return respond(std::move(r));
    }
    next(req, std::move(respond));
  };
}

http_handler route_console(http_handler next) {
  return [next = std::move(next)](const http_request& req, http_responder respond) {
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (path != "/ui" && path.rfind("/ui/", 0) != 0)
      return next(req, std::move(respond));
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = page(405, "text/plain; charset=utf-8", "the console allows GET\n");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return respond(std::move(r));
    }
    if (path == "/ui") {
      auto r = page(308, "text/plain; charset=utf-8", "the console is at /ui/\n");
      r.headers.emplace_back("Location", "/ui/");
      return respond(std::move(r));
    }
    auto name = path.substr(4);
    if (name.empty())
      name = "index.html";
    for (const auto& a : console::assets())
      if (a.name == name)
        return respond(page(200, std::string{a.content_type}, std::string{a.body}));
    respond(page(404, "text/plain; charset=utf-8",
                 "no console page " + std::string{path} + "; the console is at /ui/\n"));
  };
}

} // namespace cairn
