// SPDX-License-Identifier: Apache-2.0
// Reading `POST /api/v1/messages:batch` bodies into envelopes, on one
// thread, both ways in the same run: straight from the text (the node's way)
// and through the JSON tree (every message read as before the scan). The
// bodies are what `cairn bench` posts: BATCH messages of about 256 bytes to
// the `bench` kind. Rounds alternate the two readers; the report gives each
// one's median nanoseconds a message and text / tree.
//
//   cairn_batch_read_bench [BATCH] [ROUNDS]     (default 512 and 9)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "cairn/actors/bench.hpp"
#include "cairn/runtime.hpp"
#include "internal/message_reader.hpp"

namespace {

std::string body_of(size_t batch) {
  std::string body = "[";
  std::string pad(150, 'x'); // each message about 256 bytes, as `cairn bench --size 256`
  for (size_t i = 0; i < batch; ++i) {
    if (i > 0)
      body += ',';
    body += R"({"to":"bench/r1-)" + std::to_string(i % 4) + R"(","type":"bench.msg/v1",)"
            + R"("payload":{"run":"r1","seq":)" + std::to_string(100000 + i)
            + R"(,"sent_us":1733000000000000,"hops":0,"actors":4,"pad":")" + pad + "\"}}";
  }
  return body + "]";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  size_t batch = argc > 1 ? std::stoul(argv[1]) : 512;
  int rounds = argc > 2 ? std::stoi(argv[2]) : 9;
  if (batch == 0 || batch > 1000 || rounds < 1) {
    std::fprintf(stderr, "usage: %s [BATCH 1..1000] [ROUNDS]\n", argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  auto dir = std::filesystem::temp_directory_path() / "cairn_batch_read_bench";
  std::filesystem::remove_all(dir);
  cairn::runtime_options o;
  o.data_dir = dir.string();
  auto rt = cairn::runtime::open(o);
  if (!rt)
    return 1;
  // Not started: reading a batch only looks the kind's codecs up.
  cairn::actors::register_bench_workload(**rt);
  auto body = body_of(batch);
  // About half a second a reader a round.
  size_t reps = std::max<size_t>(1, 200'000 / batch);
  std::vector<double> text_ns, tree_ns;
  for (int r = 0; r < rounds; ++r) {
    for (bool scan : {r % 2 == 0, r % 2 != 0}) {
      size_t messages = 0, scanned = 0;
      auto t0 = std::chrono::steady_clock::now();
      for (size_t k = 0; k < reps; ++k) {
        auto read = cairn::api::read_batch(**rt, body, false, "", scan);
        auto* b = std::get_if<cairn::api::batch_messages>(&read);
        if (b == nullptr || b->envs.size() != batch) {
          std::fprintf(stderr, "the batch was not read whole\n");
          return 1;
        }
        messages += b->envs.size();
        scanned += b->scanned;
      }
      double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count()
        / static_cast<double>(messages);
      if (scan && scanned != messages) {
        std::fprintf(stderr, "the text reader left %zu messages to the tree\n", messages - scanned);
        return 1;
      }
      (scan ? text_ns : tree_ns).push_back(ns);
    }
  }
  double text = median(text_ns), tree = median(tree_ns);
  std::printf("batch read, %zu messages of ~256 B a body, %d rounds (median):\n", batch, rounds);
  std::printf("  from the text    %7.1f ns a message\n", text);
  std::printf("  JSON tree        %7.1f ns a message\n", tree);
  std::printf("  text / tree      %7.2fx the time (%.2fx the rate)\n", text / tree, tree / text);
  rt->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
