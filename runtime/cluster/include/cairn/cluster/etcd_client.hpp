// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

// The cluster's view of etcd (docs/cluster.md, "etcd: keys and requests"):
// the v3 JSON gateway over plain HTTP with the node's one HTTP client, no
// gRPC. Blocking calls: use them from threads that may wait (never a CAF
// scheduler or HTTP I/O thread). An `etcd_client` may be used by any number
// of threads at once.
namespace cairn::cluster {

/// One key-value pair as etcd holds it. A plain value.
struct etcd_kv {
  std::string key;             ///< the key, decoded from the gateway's base64
  std::string value;           ///< the value, decoded from the gateway's base64
  int64_t create_revision = 0; ///< the store revision that created the key
  int64_t mod_revision = 0;    ///< the store revision that last wrote it
  int64_t version = 0;         ///< 0: the key does not exist
  int64_t lease = 0;           ///< the lease it is attached to (0: none)
};

/// A condition of a transaction on one key: its `version`,
/// `mod_revision` or `create_revision` compared with a number, or its
/// `value` with a string. A plain value.
struct etcd_compare {
  /// What of the key is compared (see `etcd_kv`).
  enum class target { version, mod_revision, create_revision, value };
  /// How the key's side relates to ours: `greater` means the key's is greater.
  enum class result { equal, not_equal, greater, less };
  std::string key;               ///< the key compared
  target what = target::version; ///< what of it is compared
  result op = result::equal;     ///< the relation that must hold
  int64_t number = 0;            ///< the operand for a version or revision
  std::string text;              ///< the operand for `target::value`

  /// The key exists not (`version == 0`).
  static etcd_compare absent(std::string key);
  /// The key was last written at `revision`.
  static etcd_compare modified_at(std::string key, int64_t revision);
  /// The key holds `value`.
  static etcd_compare holds(std::string key, std::string value);
};

/// One write of a transaction: put `key` = `value` (under `lease`, 0: none)
/// or delete `key`. A plain value.
struct etcd_op {
  bool remove = false; ///< true: delete `key`; false: put `value`
  std::string key;     ///< the key written
  std::string value;   ///< the value put (unused by a delete)
  int64_t lease = 0;   ///< the lease to attach the put key to (0: none)

  /// Puts `key` = `value`, under `lease` (0: none).
  static etcd_op put(std::string key, std::string value, int64_t lease = 0);
  /// Deletes `key`.
  static etcd_op erase(std::string key);
};

/// A lease: its id and the TTL etcd granted (it may round up: 2 s at least).
struct etcd_lease {
  int64_t id = 0;  ///< the lease id etcd assigned
  int64_t ttl = 0; ///< granted time to live, seconds
};

/// A client of one etcd cluster. Endpoints (`http://HOST:PORT`) are tried
/// in turn: a connection failure moves on to the next; an answer (even an
/// error) does not. Errors are `unavailable`-like `storage_read_failed`
/// when no endpoint answers, `invalid_argument` for what etcd refused,
/// both naming the request.
class etcd_client {
public:
  /// A client of `endpoints` (`http://HOST[:PORT]`, port 2379 if none), not
  /// checked (`from_urls` checks); `timeout` bounds each HTTP request.
  explicit etcd_client(std::vector<std::string> endpoints,
                       std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Parses `http://HOST:PORT[,http://...]`; `invalid_argument` naming the bad one.
  static caf::expected<etcd_client>
  from_urls(const std::string& urls, std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Writes `key` = `value` (under `lease`, 0: none); the store's revision after it.
  caf::expected<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);

  /// The pair at `key`, if any (an empty list if not).
  caf::expected<std::vector<etcd_kv>> get(const std::string& key);

  /// Every pair whose key starts with `prefix`, in key order, at most `limit` (0: all);
  /// `read_at`, if given, receives the store's revision the range was read at.
  caf::expected<std::vector<etcd_kv>> prefix(const std::string& prefix, int64_t limit = 0,
                                             int64_t* read_at = nullptr);

  /// Deletes `key`; how many keys were deleted (0 or 1).
  caf::expected<int64_t> erase(const std::string& key);

  /// Runs `success` if every `compare` holds, else `failure`, atomically;
  /// true if the compares held.
  caf::expected<bool> txn(const std::vector<etcd_compare>& compare,
                          const std::vector<etcd_op>& success,
                          const std::vector<etcd_op>& failure = {});

  /// Grants a lease of `ttl_seconds`.
  caf::expected<etcd_lease> grant(int64_t ttl_seconds);

  /// Renews a lease; its remaining TTL, or 0 if etcd no longer has it.
  caf::expected<int64_t> keep_alive(int64_t lease);

  /// Revokes a lease: every key under it is deleted.
  caf::error revoke(int64_t lease);

  /// The endpoint URLs, as given.
  const std::vector<std::string>& endpoints() const { return urls_; }

private:
  struct endpoint {
    std::string host;
    std::string port;
  };
  /// POSTs `body` to `path` on the first endpoint that answers; the JSON text.
  caf::expected<std::string> call(const std::string& path, const std::string& body);
  /// `call`, its answer parsed as a JSON object.
  caf::expected<boost::json::object> post(const std::string& path, const std::string& body);

  std::vector<std::string> urls_;
  std::vector<endpoint> endpoints_;
  std::chrono::milliseconds timeout_;
};

} // namespace cairn::cluster
