// SPDX-License-Identifier: Apache-2.0
// Which actors' rows the memtable inserts with a hint (rocksdb_options.cpp).
#pragma once

#include <string_view>

namespace cairn::internal {

/// From now on, rows of actors of `kind` in the mailbox and journal
/// families are inserted without a memtable insert hint. A hint places a
/// row next to its actor's previous one, which pays for actors that write
/// many rows in turn; an actor that passivates at once (an MCP call's)
/// writes one or two, and its hint would be one more entry in the
/// memtable's hint table, never used again. Process-wide and only a matter
/// of speed: no row is written or read differently. Kinds beyond the
/// table's capacity (1,024) keep their hints.
void skip_insert_hints(std::string_view kind);

/// Whether rows of `actor` (`kind/key`) are inserted with a hint.
bool insert_hinted(std::string_view actor);

} // namespace cairn::internal
