// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the node API's request handler, in-process: fuzzed
// method, target (path and query), headers and body, with and without a
// token. Whatever arrives, the handler must answer exactly once with a
// status below 500 (or a 503 while storage refuses writes), never crash,
// leak or hang.
//
//   cmake -G Ninja -S . -B build-fuzz -DCAIRN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14
//   cmake --build build-fuzz --target node_api_fuzz
//   ./build-fuzz/tests/node_api_fuzz -max_total_time=600 tests/fuzz/node_api_corpus
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>

#include "cairn/actors/chain.hpp"
#include "cairn/actors/delivery.hpp"
#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"

namespace {

struct fixture {
  std::unique_ptr<cairn::runtime> rt;
  cairn::http_handler open_api;  // no tokens
  cairn::http_handler token_api; // tokens with every scope
  fixture() {
    cairn::runtime_options opts;
    char tmpl[] = "/tmp/cairn-fuzz-api-XXXXXX";
    opts.data_dir = mkdtemp(tmpl);
    opts.record_spans = false;
    opts.max_pending = 10'000; // bounded memory while the fuzzer posts messages
    rt = std::move(*cairn::runtime::open(opts));
    cairn::actors::delivery_options demo;
    demo.payment_failure_rate = 0;
    cairn::actors::register_delivery_demo(*rt, demo);
    cairn::actors::register_chain_workload(*rt);
    if (rt->start())
      std::abort();
    open_api = cairn::make_node_api(*rt, {});
    cairn::node_api_options with_tokens;
    with_tokens.tokens = {{"r", {"read"}, {}}, {"w", {"write"}, {}}, {"a", {"admin"}, {}}};
    token_api = cairn::make_node_api(*rt, with_tokens);
  }
};

// Never destroyed: at exit, CAF's own globals may already be gone.
fixture& get() {
  static auto* f = new fixture;
  return *f;
}

// Input: one byte picks the method and the API, then the target up to the
// first newline, then "name: value" lines, then an empty line and the body.
cairn::http_request as_request(std::string_view in) {
  cairn::http_request req;
  static const char* methods[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "", "get"};
  req.method = methods[static_cast<uint8_t>(in[0]) % 8];
  in.remove_prefix(1);
  auto nl = in.find('\n');
  req.target = std::string{in.substr(0, nl)};
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  auto split = in.find("\n\n");
  auto head = in.substr(0, split);
  req.body = split == std::string_view::npos ? std::string{} : std::string{in.substr(split + 2)};
  while (!head.empty()) {
    auto end = head.find('\n');
    auto line = head.substr(0, end);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name{line.substr(0, colon)};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      req.headers.emplace_back(name, std::string{value});
    }
    if (end == std::string_view::npos)
      break;
    head.remove_prefix(end + 1);
  }
  return req;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& f = get();
  if (size < 2)
    return 0;
  std::string_view in{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto req = as_request(in);
  auto& api = data[0] & 1 ? f.token_api : f.open_api;
  // Answers may come from the commit thread (a POSTed message): wait for it.
  auto answered = std::make_shared<std::atomic<int>>(0);
  auto status = std::make_shared<std::atomic<unsigned>>(0);
  api(req, [answered, status](cairn::http_response r) {
    status->store(r.status);
    answered->fetch_add(1);
  });
  for (int i = 0; i < 10'000 && answered->load() == 0; ++i)
    usleep(100);
  if (answered->load() != 1)
    std::abort(); // no answer within a second, or more than one
  if (status->load() >= 500 && status->load() != 503)
    std::abort();
  return 0;
}
