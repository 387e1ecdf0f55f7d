// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "cairn/runtime.hpp"

namespace cairn::actors {

/// The chain workload, used by crash tests and benchmarks: `source/<c>`
/// produces `count` numbered items for chain `c`, which travel through
/// `hop_a/<c>` -> `hop_b/<c>` -> `hop_c/<c>`; every hop journals each item.
struct chain_produce {
  uint64_t count = 0;  ///< items this source produces in total
  uint32_t batch = 64; ///< items per step
  /// Set: each item reaches `hop_a` after this many ms, through a durable
  /// timer (`context::schedule`) instead of a send.
  caf::optional<uint64_t> delay_ms;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chain_produce& x) {
  return f(caf::meta::type_name("chain.produce"), field{"count"}, x.count, field{"batch"}, x.batch,
           field{"delay_ms"}, x.delay_ms);
}

/// One item (also the event each hop journals).
struct chain_item {
  uint32_t chain = 0; ///< the chain it belongs to (`c` in `source/<c>`)
  uint64_t seq = 0;   ///< its number in the chain, from 0
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chain_item& x) {
  return f(caf::meta::type_name("chain.item"), x.chain, x.seq);
}

/// The source's journaled progress: items [0, upto) have been sent.
struct chain_produced {
  uint64_t upto = 0; ///< items sent so far (the next item's number)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chain_produced& x) {
  return f(caf::meta::type_name("chain.produced"), x.upto);
}

/// The relay workload of the cluster benchmark: a token that `relay/<k>`
/// actors pass on around a ring of actor ids (`route`, comma-separated),
/// `hops_left` times. A relay keeps no state: one step, one send.
struct relay_token {
  std::string route;      ///< the ring's actor ids, comma-separated
  uint32_t at = 0;        ///< index of the current holder in `route`
  uint64_t hops_left = 0; ///< passes still to make; a holder that gets 0 keeps the token
  std::string pad;        ///< payload ballast (the benchmark sends 256 bytes)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relay_token& x) {
  return f(caf::meta::type_name("relay.token"), field{"route"}, x.route, field{"at"}, x.at,
           field{"hops_left"}, x.hops_left, field{"pad"}, x.pad);
}

/// Registers kinds `source`, `hop_a`, `hop_b`, `hop_c` and `relay` on `rt`.
void register_chain_workload(runtime& rt);

/// Starts chain `c` (idempotent: the same start is deduplicated).
caf::expected<std::string> start_chain(runtime& rt, uint32_t c, uint64_t count, uint32_t batch);

} // namespace cairn::actors

CAIRN_MESSAGE_TYPE(cairn::actors::chain_produce, "chain.produce/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::chain_item, "chain.item/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::chain_produced, "chain.produced/v1");
CAIRN_MESSAGE_TYPE(cairn::actors::relay_token, "relay.token/v1");
