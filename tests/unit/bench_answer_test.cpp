// SPDX-License-Identifier: Apache-2.0
// `cairn bench` reads a batch answer that takes every message from the
// counts it starts with; any other answer is read result by result. Its
// actors read their messages' fields in place.
#include <random>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cairn/actors/bench.hpp"
#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "commands/bench_drive.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using cairn::cli::batch_answer_counts;

TEST_CASE("a batch answer's counts are read from its start, and anything else gives none",
          "[bench]") {
  auto whole = batch_answer_counts(R"({"accepted":512,"refused":0,"results":[{"id":"a"}]})");
  REQUIRE(whole);
  CHECK(whole->first == 512);
  CHECK(whole->second == 0);
  auto part = batch_answer_counts(R"({"accepted":3,"refused":2,"results":[)");
  REQUIRE(part);
  CHECK(part->first == 3);
  CHECK(part->second == 2);
  // Not the node's answer, or not all of it: nothing, so the results are read.
  for (const char* other : {
         R"({"refused":0,"accepted":512,"results":[]})",                     // another order
         R"({ "accepted":512,"refused":0,"results":[]})",                    // spaces
         R"({"accepted":,"refused":0,"results":[]})",                        // no number
         R"({"accepted":-1,"refused":0,"results":[]})",                      // a sign
         R"({"accepted":99999999999999999999999,"refused":0,"results":[]})", // too large
         R"({"accepted":512,"results":[]})",                                 // no refusals
         R"({"accepted":512,"refused":0)",                                   // cut short
         R"({"accepted":512,"refused":0x,"results":[]})",                    // trailing junk
         "",
         "{\"type\":\"about:blank\",\"status\":429}", // a problem, not a batch answer
       }) {
    INFO(other);
    CHECK_FALSE(batch_answer_counts(other));
  }
}

// Each step of a bench run reads its message's fields in place; they are
// what CAF's own deserializer reads from the same bytes, for run ids and
// ballast whose lengths take one, two and three bytes to write.
TEST_CASE("a bench message's fields read in place are the ones its encoding holds", "[bench]") {
  std::mt19937_64 pick{7};
  for (size_t run_size : {0, 1, 15, 16, 127, 128, 300, 20000})
    for (size_t pad_size : {0, 1, 127, 128, 256, 16383, 16384}) {
      cairn::actors::bench_msg m;
      m.run.assign(run_size, 'r');
      m.seq = pick();
      m.sent_us = static_cast<int64_t>(pick());
      m.hops = static_cast<uint32_t>(pick());
      m.actors = static_cast<uint32_t>(pick());
      m.pad.assign(pad_size, 'x');
      auto bytes = cairn::encode(m);
      auto back = cairn::decode<cairn::actors::bench_msg>(bytes);
      REQUIRE(back);
      cairn::actors::bench_head h;
      REQUIRE(cairn::actors::read_bench_head(bytes, h));
      CHECK(h.run == back->run);
      CHECK(h.seq == back->seq);
      CHECK(h.sent_us == back->sent_us);
      CHECK(h.hops == back->hops);
      CHECK(h.actors == back->actors);
      CHECK(h.pad == back->pad);
      // Cut short anywhere, or with a byte more, it is not one whole message.
      for (size_t cut : {size_t{0}, bytes.size() / 2, bytes.size() - 1})
        CHECK_FALSE(cairn::actors::read_bench_head(std::string_view{bytes}.substr(0, cut), h));
      CHECK_FALSE(cairn::actors::read_bench_head(bytes + "x", h));
    }
}

// A node keeps the counts of its 32 newest runs. A 33rd run takes the
// oldest one's place; every run's counts are its own (nothing carried over
// from the run that had its place before), each counted once its step commits.
TEST_CASE("the bench keeps the counts of the 32 newest runs, each run's its own", "[bench]") {
  cairn::test::temp_dir dir;
  cairn::runtime_options o;
  o.data_dir = dir.sub("data");
  o.threads = 1;
  auto rt = cairn::runtime::open(o);
  REQUIRE(rt);
  cairn::actors::register_bench_workload(**rt);
  REQUIRE_FALSE((*rt)->start());
  // Run names no other test in this process uses; each run has 1 to 3 messages.
  auto name = [](int i) { return "keep" + std::to_string(::getpid()) + "-" + std::to_string(i); };
  auto sent = [](int i) { return static_cast<uint64_t>(i % 3 + 1); };
  auto received = [](const std::string& run) -> int64_t {
    auto r = cairn::actors::bench_report_of(run);
    return r ? static_cast<int64_t>(r->received) : -1;
  };
  for (int i = 0; i <= 32; ++i) {
    // One run after another: each takes its place once its first step runs.
    for (uint64_t seq = 0; seq < sent(i); ++seq) {
      cairn::actors::bench_msg m;
      m.run = name(i);
      m.seq = seq;
      m.sent_us = 1;
      cairn::envelope env;
      env.to = "bench/" + m.run + "-0";
      env.type = "bench.msg/v1";
      env.payload = cairn::encode(m);
      REQUIRE((*rt)->accept(env));
    }
    REQUIRE(cairn::test::eventually([&] { return received(name(i)) == int64_t(sent(i)); }));
  }
  CHECK(received(name(0)) == -1); // its place went to the 33rd
  for (int i = 1; i <= 32; ++i) {
    auto r = cairn::actors::bench_report_of(name(i));
    REQUIRE(r);
    CHECK(r->run == name(i));
    CHECK(r->received == sent(i));
    CHECK(r->duplicates == 0);
  }
  (*rt)->stop();
}
