// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: a batch body read straight from its text must give what
// the JSON tree gives — the same envelopes, the same refusals word for word
// — and a typed payload read from text the same bytes as through the tree.
// Any difference aborts.
//
// Input: a first byte 0x01 makes the rest an NDJSON body; anything else is
// read as a JSON array body. The whole input is also read as a `bench`
// payload.
//
//   cmake -G Ninja -S . -B build-fuzz -DCAIRN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14
//   cmake --build build-fuzz --target batch_read_fuzz
//   ./build-fuzz/tests/batch_read_fuzz -max_total_time=600 tests/fuzz/batch_corpus
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <variant>

#include "cairn/actors/bench.hpp"
#include "cairn/actors/chain.hpp"
#include "cairn/codec.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/runtime.hpp"
#include "internal/message_reader.hpp"

namespace {

struct fixture {
  std::unique_ptr<cairn::runtime> rt;
  cairn::message_codec bench = cairn::json::codec_for<cairn::actors::bench_msg>();
  fixture() {
    cairn::runtime_options opts;
    // mkdtemp makes the directory, replacing the template's six X's.
    char dir[] = "/tmp/cairn-fuzz-batch-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      std::perror("batch_read_fuzz: mkdtemp");
      std::abort();
    }
    opts.data_dir = dir;
    opts.record_spans = false;
    rt = std::move(*cairn::runtime::open(opts));
    // A typed kind (bench) and one whose payloads stay JSON (chain). Not
    // started: reading a batch only looks codecs up.
    cairn::actors::register_bench_workload(*rt);
    cairn::actors::register_chain_workload(*rt);
  }
};

// Never destroyed: at exit, CAF's own globals may already be gone.
fixture& get() {
  static auto* f = new fixture;
  return *f;
}

[[noreturn]] void differ(const char* what) {
  std::fprintf(stderr, "the text reader and the tree differ: %s\n", what);
  std::abort();
}

std::string described(const cairn::http_response& r) {
  return std::to_string(r.status) + " " + r.body;
}

void compare(const std::string& body, bool ndjson) {
  auto& f = get();
  const std::string trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  auto fast = cairn::api::read_batch(*f.rt, body, ndjson, trace, true);
  auto tree = cairn::api::read_batch(*f.rt, body, ndjson, trace, false);
  if (fast.index() != tree.index())
    differ("one refused the batch, the other did not");
  if (auto* refused = std::get_if<cairn::http_response>(&tree)) {
    if (described(*refused) != described(std::get<cairn::http_response>(fast)))
      differ("the batch's refusal");
    return;
  }
  auto& a = std::get<cairn::api::batch_messages>(fast);
  auto& b = std::get<cairn::api::batch_messages>(tree);
  if (a.problems.size() != b.problems.size() || a.slot != b.slot || a.envs.size() != b.envs.size())
    differ("the messages' count or order");
  for (size_t i = 0; i < a.problems.size(); ++i)
    if (a.problems[i].has_value() != b.problems[i].has_value()
        || (a.problems[i] && described(*a.problems[i]) != described(*b.problems[i])))
      differ("a message's refusal");
  for (size_t k = 0; k < a.envs.size(); ++k)
    if (cairn::encode(a.envs[k]) != cairn::encode(b.envs[k]))
      differ("an envelope");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in{reinterpret_cast<const char*>(data), size};
  if (!in.empty() && in[0] == '\x01')
    compare(in.substr(1), true);
  else
    compare(in, false);
  auto& f = get();
  std::string fast;
  auto took = f.bench.from_json_text(in, fast);
  if (took != 0 && in.find_first_not_of(" \t\r\n", took) == std::string::npos) {
    auto slow = f.bench.from_json(in);
    if (!slow || *slow != fast)
      differ("a bench payload");
  }
  return 0;
}
