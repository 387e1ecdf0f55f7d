// SPDX-License-Identifier: Apache-2.0
// How cairn configures and opens its RocksDB database (rocksdb_options.cpp);
// used by the storage adapter only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>

#include "cairn/storage.hpp"

namespace cairn::internal {

/// The database's options: memory budgets, parallelism, the log bridge.
rocksdb::Options db_options();

/// The actor of an `id \0 be64(seq)` key: all but its last 8 bytes; any
/// other key (a bare `id \0` prefix) is outside its domain.
const std::shared_ptr<const rocksdb::SliceTransform>& by_actor();

/// The families read one actor at a time, with bloom filters by actor
/// (`mailbox` and `journal`).
bool read_by_actor(column c);

/// Every column family cairn has, with its options, the default first.
std::vector<rocksdb::ColumnFamilyDescriptor> column_families(const rocksdb::Options& options);

/// Opens the database with every column family; on success `handles` holds
/// ours in `column` order (the default family's handle is released).
/// `env`: the one to open it through (RocksDB's default if null).
rocksdb::Status open_db(const std::string& dir, bool read_only, rocksdb::DB*& db,
                        std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                        rocksdb::Env* env = nullptr);

} // namespace cairn::internal
