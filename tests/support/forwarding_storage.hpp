// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <utility>

#include "cairn/storage.hpp"

namespace cairn::test {

/// Storage that hands every call to the one it wraps (RocksDB in the
/// tests): a test storage overrides what it watches or changes, `write`
/// mostly, and keeps the rest. `ingest` is storage's own, through `write`,
/// so a test sees (or fails) those writes too.
class forwarding_storage : public storage {
public:
  explicit forwarding_storage(std::unique_ptr<storage> inner) : inner_(std::move(inner)) {}

  caf::error write(const write_set& ops, bool sync) override { return inner_->write(ops, sync); }
  caf::expected<std::optional<std::string>> get(column cf, std::string_view key) override {
    return inner_->get(cf, key);
  }
  caf::error scan(column cf, std::string_view prefix, std::string_view from,
                  const scan_fn& fn) override {
    return inner_->scan(cf, prefix, from, fn);
  }
  caf::error last(column cf, std::string_view prefix, const scan_fn& fn) override {
    return inner_->last(cf, prefix, fn);
  }
  std::vector<std::pair<std::string, uint64_t>> properties() override {
    return inner_->properties();
  }
  caf::error flush() override { return inner_->flush(); }
  uint64_t bytes_written() const override { return inner_->bytes_written(); }

private:
  std::unique_ptr<storage> inner_;
};

} // namespace cairn::test
