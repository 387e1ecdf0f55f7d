// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the MCP request handler: arbitrary bytes as a
// stdio message (JSON-RPC framing, every method, both revisions) or as a
// Streamable HTTP request (headers and body). Whatever arrives, the server
// must answer without crashing, leaking or hanging.
//
//   cmake -G Ninja -S . -B build-fuzz -DCAIRN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14
//   cmake --build build-fuzz --target mcp_request_fuzz
//   ./build-fuzz/tests/fuzz/mcp_request_fuzz -max_total_time=600 tests/fuzz/corpus
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

#include "cairn/actors/demo_tools.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "mcp_fixture.hpp"

namespace {

struct fixture {
  std::unique_ptr<cairn::runtime> rt;
  std::unique_ptr<cairn::mcp::server> srv;

  fixture() {
    cairn::runtime_options opts;
    char tmpl[] = "/tmp/cairn-fuzz-XXXXXX";
    opts.data_dir = mkdtemp(tmpl);
    opts.record_spans = false;
    rt = std::move(*cairn::runtime::open(opts));
    srv = std::make_unique<cairn::mcp::server>(*rt, cairn::mcp::server_options{});
    cairn::test::register_conformance_fixture(*srv);
    cairn::actors::register_demo_tools(*srv, *rt);
    srv->attach();
    if (rt->start())
      std::abort();
  }
};

// Never destroyed: at exit, CAF's own globals may already be gone.
fixture& get() {
  static auto* f = new fixture;
  return *f;
}

// Splits "name: value" lines from the first part of the input; the rest is
// the body.
cairn::http_request as_http(std::string_view in) {
  cairn::http_request req;
  static const char* methods[] = {"POST", "GET", "DELETE", "PUT"};
  req.method = in.empty() ? "POST" : methods[static_cast<uint8_t>(in[0]) % 4];
  req.target = "/mcp";
  if (!in.empty())
    in.remove_prefix(1);
  auto split = in.find("\n\n");
  auto head = in.substr(0, split);
  req.body = split == std::string_view::npos ? std::string{} : std::string{in.substr(split + 2)};
  while (!head.empty()) {
    auto nl = head.find('\n');
    auto line = head.substr(0, nl);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name{line.substr(0, colon)};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(name, std::string{line.substr(colon + 1)});
    }
    if (nl == std::string_view::npos)
      break;
    head.remove_prefix(nl + 1);
  }
  return req;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& f = get();
  if (size == 0)
    return 0;
  std::string_view in{reinterpret_cast<const char*>(data) + 1, size - 1};
  if (data[0] & 1) {
    f.srv->handle_message(std::string{in}, [](std::string) {});
  } else {
    f.srv->handle_http(as_http(in), [](cairn::http_response r) {
      if (r.stream)
        r.stream->close();
    });
  }
  return 0;
}
