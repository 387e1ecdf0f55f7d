// SPDX-License-Identifier: Apache-2.0
// The cluster seam (docs/cluster.md): the outbox read and acknowledged, the
// import of envelopes other nodes forward, and the cluster layer's meta rows.
#include "cairn/codec.hpp"
#include "internal/keys.hpp"
#include "internal/runtime_impl.hpp"

namespace cairn {

caf::expected<std::vector<runtime::outbox_row>>
runtime::read_outbox(std::string_view peer, uint64_t from_seq, size_t max_rows, size_t max_bytes) {
  std::vector<outbox_row> out;
  size_t bytes = 0;
  auto err = impl_->store->scan(
    column::outbox, keys::actor_prefix(peer), keys::actor_seq(peer, from_seq),
    [&](std::string_view k, std::string_view v) {
      if (out.size() >= max_rows || (!out.empty() && bytes + v.size() > max_bytes))
        return false;
      std::string_view owner;
      uint64_t seq = 0;
      if (!keys::split_actor_seq(k, owner, seq))
        return true;
      auto rec = decode<internal::mailbox_record>(v);
      // An undecodable row still travels: the owner refuses it loudly
      // rather than this node dropping it silently.
      out.push_back(outbox_row{seq, rec ? rec->env.to : std::string{}, std::string{v}});
      bytes += v.size();
      return true;
    });
  if (err)
    return err;
  return out;
}

caf::expected<std::map<std::string, uint64_t>> runtime::outbox_depths() {
  std::map<std::string, uint64_t> out;
  auto err = impl_->store->scan(column::outbox, "", "", [&](std::string_view k, std::string_view) {
    std::string_view peer;
    uint64_t seq = 0;
    if (keys::split_actor_seq(k, peer, seq))
      ++out[std::string{peer}];
    return true;
  });
  if (err)
    return err;
  return out;
}

void runtime::drop_outbox(std::string peer, std::vector<uint64_t> seqs,
                          std::function<void(caf::error)> done) {
  internal::commit_request req;
  for (auto seq : seqs)
    req.ops.erase(column::outbox, keys::actor_seq(peer, seq));
  impl_->commit_async(req, std::move(done));
}

void runtime::import_forwarded(std::vector<std::string> records,
                               std::vector<std::pair<std::string, std::string>> meta_rows,
                               std::function<void(caf::error, size_t)> done) {
  auto& d = *impl_;
  internal::commit_request req;
  for (auto& r : records) {
    auto rec = decode<internal::mailbox_record>(r);
    if (!rec)
      return done(make_error(errc::invalid_payload,
                             "a forwarded record does not decode: " + render(rec.error())),
                  0);
    req.enqueue.push_back(std::move(rec->env));
  }
  for (auto& [k, v] : meta_rows)
    req.ops.put(column::meta, std::move(k), std::move(v));
  req.dedupe = true;
  auto cb = std::make_shared<std::function<void(caf::error, size_t)>>(std::move(done));
  req.done = [cb](internal::commit_result& r) { (*cb)(std::move(r.err), r.forwarded); };
  if (!d.accepting.load() || !d.coord_live.load() || !d.coord->submit(req, false))
    (*cb)(make_error(errc::busy, "the node is not taking forwarded messages now; retry"), 0);
}

caf::expected<std::optional<std::string>> runtime::read_meta(std::string_view key) {
  return impl_->store->get(column::meta, key);
}

caf::error runtime::write_meta(std::string key, std::string value) {
  auto& d = *impl_;
  internal::commit_request req;
  req.ops.put(column::meta, std::move(key), std::move(value));
  if (!d.coord_live.load())
    return d.store->write(req.ops, d.opts.mode == durability::fsync);
  return d.commit_and_wait(req);
}

caf::error runtime::visit_stored_actors(const std::function<void(std::string_view)>& fn) {
  auto& store = *impl_->store;
  // Keyed by actor: one seek per distinct actor (a skip-scan).
  for (auto col : {column::mailbox, column::journal}) {
    std::string from;
    for (;;) {
      std::string found;
      auto err = store.scan(col, "", from, [&](std::string_view k, std::string_view) {
        std::string_view actor;
        uint64_t seq = 0;
        if (keys::split_actor_seq(k, actor, seq))
          found.assign(actor);
        else
          found.assign(k);
        return false;
      });
      if (err)
        return err;
      if (found.empty())
        break;
      fn(found);
      from = found;
      from.push_back('\x01'); // past every `actor \0 seq` row
    }
  }
  auto err = store.scan(column::snapshot, "", "", [&](std::string_view k, std::string_view) {
    fn(k);
    return true;
  });
  if (!err)
    err = store.scan(column::timer, "", "", [&](std::string_view, std::string_view v) {
      if (auto env = decode<envelope>(v))
        fn(env->to);
      return true;
    });
  if (!err)
    err = store.scan(column::dead, "", "", [&](std::string_view, std::string_view v) {
      if (auto dl = decode<dead_letter>(v))
        fn(dl->env.to);
      return true;
    });
  return err;
}

} // namespace cairn
