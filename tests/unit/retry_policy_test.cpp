// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "cairn/retry_policy.hpp"

using namespace cairn;
using std::chrono::milliseconds;

TEST_CASE("the backoff cap grows exponentially up to the maximum", "[retry]") {
  retry_policy p{10, milliseconds{100}, 2.0, milliseconds{1'000}, false};
  CHECK(p.delay(1, 0.5) == milliseconds{100});
  CHECK(p.delay(2, 0.5) == milliseconds{200});
  CHECK(p.delay(3, 0.5) == milliseconds{400});
  CHECK(p.delay(4, 0.5) == milliseconds{800});
  CHECK(p.delay(5, 0.5) == milliseconds{1'000});
  CHECK(p.delay(30, 0.5) == milliseconds{1'000});
}

TEST_CASE("full jitter draws the delay within [0, cap]", "[retry]") {
  retry_policy p{10, milliseconds{100}, 2.0, milliseconds{1'000}, true};
  CHECK(p.delay(3, 0.0) == milliseconds{0});
  CHECK(p.delay(3, 0.5) == milliseconds{200});
  CHECK(p.delay(3, 0.999) <= milliseconds{400});
  CHECK(p.cap(3) == milliseconds{400});
}
