// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include "cairn/codec.hpp"

namespace cairn::test {

/// The numbered message of the ingest crash test.
struct ingest_item {
  uint64_t n = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingest_item& x) {
  return f(caf::meta::type_name("ingest.item"), x.n);
}

} // namespace cairn::test

CAIRN_MESSAGE_TYPE(cairn::test::ingest_item, "ingest.item/v1");
