// SPDX-License-Identifier: Apache-2.0
// The typed order the typed-message tests send (typed_json_test.cpp through
// the codec alone, typed_messages_test.cpp through a node).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "cairn/codec.hpp"
#include "cairn/json_codec.hpp"

namespace cairn::test::typed {

enum class speed : uint8_t { standard = 0, express = 1 };

struct address {
  std::string city;
  caf::optional<std::string> note;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, address& x) {
  return f(caf::meta::type_name("test.address"), field{"city"}, x.city, field{"note"}, x.note);
}

struct order {
  std::string customer;
  uint32_t qty = 0;
  std::vector<std::string> skus;
  address ship_to;
  speed how = speed::standard;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order& x) {
  return f(caf::meta::type_name("test.order"), field{"customer"}, x.customer, field{"qty"}, x.qty,
           field{"skus"}, x.skus, field{"ship_to"}, x.ship_to, field{"how"}, x.how);
}

} // namespace cairn::test::typed

CAIRN_MESSAGE_TYPE(cairn::test::typed::order, "test.order/v1");
