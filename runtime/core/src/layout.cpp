// SPDX-License-Identifier: Apache-2.0
// On-disk layout versions and the migrations between them. A new layout is
// never a silent reinterpretation: it gets a version and a step here.
#include "internal/layout.hpp"

#include <spdlog/spdlog.h>

#include "cairn/error.hpp"

namespace cairn::internal {

namespace {

struct migration {
  uint32_t from;
  const char* what;
  caf::error (*apply)(storage& store, write_set& ws);
};

// 1 -> 2: the `outbox` column family (created empty at open); nothing moves.
caf::error add_outbox(storage&, write_set&) {
  return {};
}

constexpr migration migrations[] = {
  {1, "adds the outbox column family", add_outbox},
};

} // namespace

caf::error migrate_layout(storage& store, const std::string& dir, const std::string& found) {
  uint32_t version = 0;
  for (char c : found) {
    if (c < '0' || c > '9' || version > 1000) {
      version = 0;
      break;
    }
    version = version * 10 + static_cast<uint32_t>(c - '0');
  }
  if (version == 0 || version > layout_version)
    return make_error(errc::unknown_layout, "data directory " + dir + " has layout version " + found
                                              + "; this cairn build knows versions 1 to "
                                              + std::to_string(layout_version)
                                              + ". Use the cairn release that wrote it");
  while (version < layout_version) {
    const migration* step = nullptr;
    for (const auto& m : migrations)
      if (m.from == version)
        step = &m;
    if (!step)
      return make_error(errc::unknown_layout, "no migration from layout version "
                                                + std::to_string(version) + " in this build");
    write_set ws;
    if (auto err = step->apply(store, ws))
      return err;
    ws.put(column::meta, "layout", std::to_string(version + 1));
    if (auto err = store.write(ws, true))
      return err;
    spdlog::info("data directory {}: layout {} -> {} ({})", dir, version, version + 1, step->what);
    ++version;
  }
  return {};
}

} // namespace cairn::internal
