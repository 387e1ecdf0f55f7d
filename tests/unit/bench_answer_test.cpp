// SPDX-License-Identifier: Apache-2.0
// `cairn bench` reads a batch answer that takes every message from the
// counts it starts with; any other answer is read result by result.
#include <catch2/catch.hpp>

#include "commands/bench_drive.hpp"

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
