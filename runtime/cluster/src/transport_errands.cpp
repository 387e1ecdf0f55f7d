// SPDX-License-Identifier: Apache-2.0
// The transport's other errands (docs/cluster.md): re-addressing an outbox to
// a shard's new owner, carrying a handover's rows to the target, and asking
// a member whether it reaches etcd.
#include <future>
#include <map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "transport.hpp"
#include "wire.hpp"

namespace cairn::cluster {

using namespace wire;

bool transport::readdress(forwarder& f) {
  auto v = node_.current();
  if (!v)
    return false;
  std::map<std::string, std::vector<runtime::outbox_row>> moved; // destination -> rows, in order
  size_t total = 0;
  // Rows below the acknowledged mark are in the peer's mailbox already (a
  // handover may since have carried them to the shard's new owner): sent on
  // as well, they would be handled twice. Their drop is usually still in
  // the commit queue, right behind the ack; one that failed is asked again
  // here (an erase is idempotent). The depth counters follow the first.
  uint64_t from = 0;
  std::vector<uint64_t> acked;
  bool all = true;
  for (;;) {
    if (total >= 65'536) {
      all = false; // the rest in the next pass
      break;
    }
    auto rows = node_.rt->read_outbox(f.peer, from, 4096, 16 << 20);
    if (!rows || rows->empty()) {
      all = all && rows;
      break;
    }
    from = rows->back().seq + 1;
    for (auto& r : *rows) {
      if (r.seq < f.acked_below) {
        acked.push_back(r.seq);
        continue;
      }
      auto dest = node_.destination(*v, f.peer, r.to);
      if (dest == f.peer)
        continue;
      moved[dest].push_back(std::move(r));
      ++total;
    }
  }
  if (!acked.empty())
    node_.rt->drop_outbox(f.peer, std::move(acked), [](const caf::error&) {});
  for (auto& [dest, rows] : moved) {
    std::vector<std::string> tos;
    tos.reserve(rows.size());
    for (auto& r : rows)
      tos.push_back(r.to);
    auto n = static_cast<int64_t>(rows.size());
    auto done = std::make_shared<std::promise<caf::error>>();
    auto result = done->get_future();
    node_.rt->readdress_outbox(f.peer, std::move(rows), dest,
                               [done](caf::error err) { done->set_value(std::move(err)); });
    if (auto err = result.get()) {
      // Refused (into this node's mailbox while its fence lapsed, a shard
      // that moved on again) or not written: they stay, and go next pass.
      if (code_of(err) != errc::shard_not_owned)
        spdlog::warn("cluster: outbox rows toward {} not sent on to {}: {}", f.peer,
                     dest.empty() ? node_.opts.node_id : dest, render(err));
      all = false;
      continue;
    }
    f.stats->depth.fetch_sub(n);
    for (auto& to : tos)
      node_.count_outbox(f.peer, to, -1);
    node_.readdressed.fetch_add(static_cast<uint64_t>(n));
    spdlog::info("cluster: {} outbox rows toward {} sent on to {} (their shards' owner now)", n,
                 f.peer, dest.empty() ? "this node" : dest);
  }
  return all;
}

std::optional<int64_t> transport::probe(const std::string& host, uint16_t port) {
  auto h = sys_->middleman().remote_actor(host, port);
  if (!h)
    return std::nullopt;
  caf::scoped_actor self{*sys_};
  std::optional<int64_t> since;
  self->request(*h, std::chrono::seconds{1}, probe_atom::value)
    .receive([&](int64_t ms) { since = ms; }, [](caf::error&) {});
  return since;
}

namespace {

/// One row as a handover carries it: family, key length, key, value.
std::string wire_row(const runtime::actor_row& r) {
  std::string w;
  w.push_back(static_cast<char>(r.family));
  put_be64(w, r.key.size());
  w += r.key;
  w += r.value;
  return w;
}

} // namespace

caf::expected<caf::actor> transport::handoff_of(const std::string& peer) {
  auto v = node_.current();
  auto m = v ? v->members.find(peer) : decltype(v->members.end()){};
  if (!v || m == v->members.end())
    return make_error(errc::unavailable, "node " + peer + " is not a member now");
  auto ingress = sys_->middleman().remote_actor(m->second.caf_host, m->second.caf_port);
  if (!ingress)
    return make_error(errc::unavailable,
                      "cannot reach node " + peer + ": " + sys_->render(ingress.error()));
  caf::scoped_actor self{*sys_};
  caf::error failed;
  caf::actor target;
  self->request(*ingress, std::chrono::seconds{10}, handoff_atom::value)
    .receive([&](caf::actor& h) { target = std::move(h); },
             [&](caf::error& err) { failed = std::move(err); });
  if (failed || !target)
    return make_error(errc::unavailable, "node " + peer + " does not take handovers: "
                                           + (failed ? sys_->render(failed) : "no answer"));
  return target;
}

caf::error transport::send_timers(const std::string& peer,
                                  const std::vector<runtime::actor_row>& rows) {
  auto target = handoff_of(peer);
  if (!target)
    return std::move(target.error());
  caf::scoped_actor self{*sys_};
  caf::error failed;
  for (size_t i = 0; i < rows.size() && !failed;) {
    std::vector<std::string> wire;
    size_t bytes = 0;
    for (; i < rows.size() && (wire.empty() || bytes < batch_bytes); ++i) {
      wire.push_back(wire_row(rows[i]));
      bytes += wire.back().size();
    }
    self
      ->request(*target, std::chrono::seconds{30}, timers_atom::value, node_.opts.node_id,
                std::move(wire))
      .receive([](uint64_t) {}, [&](caf::error& err) { failed = std::move(err); });
  }
  if (!failed)
    return {};
  auto why = code_of(failed) != errc::none ? detail_of(failed) : sys_->render(failed);
  return make_error(errc::unavailable, "node " + peer + ": " + why);
}

caf::error transport::hand_over(const std::string& peer, const std::string& shards_csv,
                                std::vector<runtime::actor_row> rows) {
  auto handoff = handoff_of(peer);
  if (!handoff)
    return std::move(handoff.error());
  auto target = *handoff;
  caf::scoped_actor self{*sys_};
  caf::error failed;
  auto fail = [&](const caf::error& err) {
    auto why = code_of(err) != errc::none ? detail_of(err) : sys_->render(err);
    return make_error(errc::unavailable, "node " + peer + ": " + why);
  };
  uint64_t counts[4] = {0, 0, 0, 0}; // mailbox, journal, snapshot, dedupe
  size_t i = 0;
  uint64_t n = 0;
  do {
    std::vector<std::string> wire;
    size_t bytes = 0;
    for (; i < rows.size() && (wire.empty() || bytes < batch_bytes); ++i) {
      auto& r = rows[i];
      wire.push_back(wire_row(r));
      bytes += wire.back().size();
      counts[r.family == column::mailbox    ? 0
             : r.family == column::journal  ? 1
             : r.family == column::snapshot ? 2
                                            : 3]++;
    }
    self
      ->request(target, std::chrono::seconds{30}, chunk_atom::value, node_.opts.node_id, shards_csv,
                n, std::move(wire))
      .receive([](uint64_t) {}, [&](caf::error& err) { failed = std::move(err); });
    if (failed)
      return fail(failed);
    ++n;
  } while (i < rows.size());
  auto csv = std::to_string(counts[0]) + "," + std::to_string(counts[1]) + ","
             + std::to_string(counts[2]) + "," + std::to_string(counts[3]);
  self
    ->request(target, std::chrono::seconds{60}, verify_atom::value, node_.opts.node_id, shards_csv,
              csv)
    .receive([](uint64_t) {}, [&](caf::error& err) { failed = std::move(err); });
  return failed ? fail(failed) : caf::error{};
}

} // namespace cairn::cluster
