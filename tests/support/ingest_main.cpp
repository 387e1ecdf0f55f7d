// SPDX-License-Identifier: Apache-2.0
// A test helper process: an embedded cairn runtime that accepts numbered
// messages from outside, one at a time, and prints "ok <n>" only after
// `accept` returned. The crash test kills it with SIGKILL and checks that
// every printed acknowledgement survived (invariant 1).
//
//   cairn_ingest_helper DATA_DIR FROM TO os|fsync   accept FROM..TO-1, then wait until idle
#include <cstdio>
#include <string>
#include <thread>

#include "cairn/runtime.hpp"
#include "ingest_item.hpp"

using cairn::test::ingest_item;

namespace {

class sink : public cairn::stateful_actor<uint64_t> {
public:
  sink() {
    on<ingest_item>([](cairn::context& ctx, const ingest_item& m) -> caf::error {
      ctx.emit(m);
      return {};
    });
    // The journal is the record the test reads; there is no state to keep.
    on_event<ingest_item>([](const ingest_item&) {});
  }
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DATA_DIR FROM TO os|fsync\n", argv[0]);
    return 2;
  }
  cairn::runtime_options opts;
  opts.data_dir = argv[1];
  opts.mode = std::string{argv[4]} == "fsync" ? cairn::durability::fsync : cairn::durability::os;
  auto from = std::stoull(argv[2]), to = std::stoull(argv[3]);
  auto rt = cairn::runtime::open(opts);
  if (!rt) {
    std::fprintf(stderr, "%s\n", cairn::render(rt.error()).c_str());
    return 1;
  }
  (*rt)->register_kind("sink", [](std::string_view) { return std::make_unique<sink>(); });
  if (auto err = (*rt)->start()) {
    std::fprintf(stderr, "%s\n", cairn::render(err).c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (auto n = from; n < to; ++n) {
    // The idempotency key makes a re-send after a crash harmless.
    auto r =
      (*rt)->tell("sink/" + std::to_string(n % 8), ingest_item{n}, "item-" + std::to_string(n));
    if (!r) {
      std::fprintf(stderr, "accept %llu failed: %s\n", static_cast<unsigned long long>(n),
                   cairn::render(r.error()).c_str());
      return 1;
    }
    std::printf("ok %llu\n", static_cast<unsigned long long>(n));
    std::fflush(stdout);
  }
  while (!(*rt)->idle())
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  std::printf("idle\n");
  std::fflush(stdout);
  return 0;
}
