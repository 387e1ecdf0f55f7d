// SPDX-License-Identifier: Apache-2.0
// What nodes say to each other over CAF (docs/cluster.md, "Transport"): the
// message atoms, batch limits and the byte order of numbers on the wire.
// Not installed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/atom.hpp>

namespace cairn::cluster::wire {

using forward_atom = caf::atom_constant<caf::atom("cfwd")>;
using persisted_atom = caf::atom_constant<caf::atom("cfwddone")>;
using handoff_atom = caf::atom_constant<caf::atom("chandoff")>; ///< -> the handoff actor
using chunk_atom = caf::atom_constant<caf::atom("cchunk")>;
using verify_atom = caf::atom_constant<caf::atom("cverify")>;
using timers_atom = caf::atom_constant<caf::atom("ctimers")>;
using probe_atom = caf::atom_constant<caf::atom("cprobe")>;

constexpr size_t batch_rows = 512;
constexpr size_t batch_bytes = 1 << 20;
constexpr auto request_timeout = std::chrono::seconds{5};
constexpr size_t batches_in_flight = 2;

inline void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

inline uint64_t get_be64(std::string_view s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

} // namespace cairn::cluster::wire
