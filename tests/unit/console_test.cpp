// SPDX-License-Identifier: Apache-2.0
// The console's asset route: what it serves, with which headers, and that
// every file the pages load is built in.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

#include "cairn/console.hpp"

namespace {

struct fixture {
  bool passed_on = false;
  cairn::http_handler handler =
    cairn::route_console([this](const cairn::http_request&, const cairn::http_responder& respond) {
      passed_on = true;
      respond(cairn::http_response{200, "application/json", "{}", {}, nullptr});
    });

  cairn::http_response get(std::string target, std::string method = "GET") {
    cairn::http_response out;
    handler(cairn::http_request{std::move(method), std::move(target), {}, {}},
            [&out](cairn::http_response r) { out = std::move(r); });
    return out;
  }
};

std::string header(const cairn::http_response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name)
      return v;
  return {};
}

} // namespace

TEST_CASE("the console page is served with a strict Content-Security-Policy", "[console]") {
  fixture f;
  auto r = f.get("/ui/");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body.find("<script type=\"module\" src=\"app.js\">") != std::string::npos);
  auto csp = header(r, "Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe") == std::string::npos);
  CHECK(header(r, "X-Content-Type-Options") == "nosniff");
  CHECK_FALSE(f.passed_on);
}

TEST_CASE("the console redirects /ui, refuses other methods and unknown files", "[console]") {
  fixture f;
  auto moved = f.get("/ui");
  CHECK(moved.status == 308);
  CHECK(header(moved, "Location") == "/ui/");
  auto post = f.get("/ui/", "POST");
  CHECK(post.status == 405);
  CHECK(header(post, "Allow") == "GET, HEAD");
  auto missing = f.get("/ui/nothing-here.js");
  CHECK(missing.status == 404);
  CHECK(missing.body.find("/ui/nothing-here.js") != std::string::npos);
  CHECK_FALSE(f.passed_on);
}

TEST_CASE("requests outside /ui/ go on to the node API", "[console]") {
  fixture f;
  CHECK(f.get("/api/v1/status").status == 200);
  CHECK(f.passed_on);
  fixture g;
  g.get("/uix");
  CHECK(g.passed_on);
}

TEST_CASE("every file the console's pages load is built in, with its type", "[console]") {
  fixture f;
  // Follow the imports from the page: each must be served as JavaScript.
  std::set<std::string> seen;
  std::vector<std::string> to_visit{"app.js"};
  const std::regex import_re{R"re(from '\.\.?/([a-z_/]+\.js)')re"};
  while (!to_visit.empty()) {
    auto name = to_visit.back();
    to_visit.pop_back();
    if (!seen.insert(name).second)
      continue;
    auto r = f.get("/ui/" + name);
    INFO(name);
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "text/javascript; charset=utf-8");
    auto dir =
      name.find('/') == std::string::npos ? std::string{} : name.substr(0, name.rfind('/') + 1);
    for (std::sregex_iterator it{r.body.begin(), r.body.end(), import_re}, end; it != end; ++it) {
      auto m = (*it)[0].str();
      auto target = (*it)[1].str();
      to_visit.push_back(m.find("'../") != std::string::npos ? target : dir + target);
    }
  }
  CHECK(seen.size() >= 11); // the shell, its two helpers, eight pages
  auto css = f.get("/ui/console.css");
  CHECK(css.status == 200);
  CHECK(css.content_type == "text/css; charset=utf-8");
}

TEST_CASE("a loopback node refuses foreign Host names (DNS rebinding)", "[console]") {
  bool reached = false;
  auto handler = cairn::refuse_foreign_hosts(
    [&reached](const cairn::http_request&, const cairn::http_responder& respond) {
      reached = true;
      respond(cairn::http_response{200, "application/json", "{}", {}, nullptr});
    });
  auto status_for = [&](std::string host) {
    cairn::http_request req{"GET", "/api/v1/status", {}, {}};
    if (!host.empty())
      req.headers.emplace_back("host", std::move(host));
    unsigned status = 0;
    handler(req, [&status](cairn::http_response r) { status = r.status; });
    return status;
  };
  CHECK(status_for("127.0.0.1:7070") == 200);
  CHECK(status_for("localhost:7070") == 200);
  CHECK(status_for("[::1]:7070") == 200);
  CHECK(status_for("") == 200);
  reached = false;
  CHECK(status_for("evil.example:7070") == 403);
  CHECK(status_for("127.0.0.1.evil.example") == 403);
  CHECK_FALSE(reached);
}
