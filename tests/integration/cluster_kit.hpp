// SPDX-License-Identifier: Apache-2.0
// What the cluster tests share (cluster_test.cpp, cluster_reads_test.cpp):
// the shard count their clusters start with, a CLI command's output, an
// actor id a given node owns, and a message sent to it through any node.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cairn/placement.hpp"

#include "http_client.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"

namespace cairn::test::clusters {

inline constexpr uint32_t shards = 24;

/// What a `cairn` command printed, once it ended (at most a minute).
inline std::string cli_output(const std::vector<std::string>& args) {
  test::node_process p{args};
  p.wait(std::chrono::seconds{60});
  return p.output();
}

/// An actor id of `kind` whose shard node `owner` owns, per node 0's map.
inline std::string actor_owned_by(test::local_cluster& c, const std::string& kind,
                                  const std::string& owner) {
  auto v = c.status(0);
  auto& owners = v.at("owners").as_array();
  for (int k = 0; k < 10'000; ++k) {
    auto id = kind + "/" + std::to_string(k);
    if (owners[shard_of(id, static_cast<uint32_t>(owners.size()))] == boost::json::value(owner))
      return id;
  }
  return {};
}

/// Posts an empty `chain.produce/v1` to `id` through node `via`; the HTTP status.
inline int send_produce(test::local_cluster& c, size_t via, const std::string& id) {
  auto path = "/api/v1/actors/" + id.substr(0, id.find('/')) + "%2F" + id.substr(id.find('/') + 1)
              + "/messages";
  return test::http_call(c.http_port(via), "POST", path,
                         R"({"type": "chain.produce/v1", "payload": {"count": 0, "batch": 1}})")
    .status;
}

} // namespace cairn::test::clusters
