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
      out.push_back(outbox_row{seq, rec ? rec->env.to : std::string{},
                               rec ? rec->env.from : std::string{}, std::string{v},
                               rec ? std::move(rec->env.traceparent) : std::string{}, false});
      if (rec && !rec->env.idempotency_key.empty()) {
        auto claimed =
          impl_->store->get(column::dedupe, rec->env.to + '\0' + rec->env.idempotency_key);
        out.back().claim = !claimed || *claimed; // unreadable: claim, to be safe
      }
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

void runtime::import_forwarded(std::vector<std::string> records, std::vector<bool> claims,
                               std::vector<std::pair<std::string, std::string>> meta_rows,
                               std::function<void(caf::error)> done) {
  auto& d = *impl_;
  internal::commit_request req;
  req.dedupe_each = std::move(claims);
  for (auto& r : records) {
    auto rec = decode<internal::mailbox_record>(r);
    if (!rec)
      return done(make_error(errc::invalid_payload,
                             "a forwarded record does not decode: " + render(rec.error())));
    req.enqueue.push_back(std::move(rec->env));
  }
  for (auto& [k, v] : meta_rows)
    req.ops.put(column::meta, std::move(k), std::move(v));
  req.local_admitted = true;
  auto cb = std::make_shared<std::function<void(caf::error)>>(std::move(done));
  req.done = [cb](internal::commit_result& r) { (*cb)(std::move(r.err)); };
  if (!d.accepting.load() || !d.coord_live.load() || !d.coord->submit(req, false))
    (*cb)(make_error(errc::busy, "the node is not taking forwarded messages now; retry"));
}

void runtime::readdress_outbox(std::string peer, std::vector<outbox_row> rows, std::string to_peer,
                               std::function<void(caf::error)> done) {
  internal::commit_request req;
  for (auto& r : rows) {
    req.ops.erase(column::outbox, keys::actor_seq(peer, r.seq));
    auto rec = decode<internal::mailbox_record>(r.record);
    if (!rec)
      return done(make_error(errc::corrupt_record, "outbox row " + std::to_string(r.seq)
                                                     + " toward " + peer
                                                     + " does not decode: " + render(rec.error())));
    req.enqueue.push_back(std::move(rec->env));
  }
  if (to_peer.empty()) {
    req.local_admitted = true; // this node owns them now: its mailbox, keys claimed here
    req.dedupe = true;
  } else {
    req.to_peer = std::move(to_peer);
  }
  impl_->commit_async(req, std::move(done));
}

namespace {

/// Visits the rows of `col` (keyed `actor \0 seq`) of the actors `owns`
/// selects: one seek per distinct actor, every row of a selected one.
caf::error visit_actor_keyed(storage& store, column col,
                             const std::function<bool(std::string_view)>& owns,
                             const std::function<void(std::string_view, std::string_view)>& fn) {
  std::string from;
  for (;;) {
    std::string actor;
    auto err = store.scan(col, "", from, [&](std::string_view k, std::string_view) {
      std::string_view a;
      uint64_t seq = 0;
      actor.assign(keys::split_actor_seq(k, a, seq) ? a : k);
      return false;
    });
    if (err)
      return err;
    if (actor.empty())
      return {};
    if (owns(actor))
      if (auto e = store.scan(col, keys::actor_prefix(actor), "", [&](auto k, auto v) {
            fn(k, v);
            return true;
          }))
        return e;
    from = actor;
    from.push_back('\x01'); // past every `actor \0 seq` row
  }
}

} // namespace

caf::expected<std::vector<runtime::actor_row>>
runtime::export_actor_rows(const std::function<bool(std::string_view)>& owns) {
  auto& store = *impl_->store;
  std::vector<actor_row> out;
  auto keep = [&](column col) {
    return [&out, col](std::string_view k, std::string_view v) {
      out.push_back(actor_row{col, std::string{k}, std::string{v}});
    };
  };
  if (auto err = visit_actor_keyed(store, column::mailbox, owns, keep(column::mailbox)))
    return err;
  if (auto err = visit_actor_keyed(store, column::journal, owns, keep(column::journal)))
    return err;
  auto err = store.scan(column::snapshot, "", "", [&](std::string_view k, std::string_view v) {
    if (owns(k))
      out.push_back(actor_row{column::snapshot, std::string{k}, std::string{v}});
    return true;
  });
  if (!err)
    err = store.scan(column::dedupe, "", "", [&](std::string_view k, std::string_view v) {
      if (owns(k.substr(0, k.find('\0')))) // `to \0 key`
        out.push_back(actor_row{column::dedupe, std::string{k}, std::string{v}});
      return true;
    });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<runtime::actor_row>>
runtime::timer_rows(const std::function<bool(std::string_view)>& to) {
  std::vector<actor_row> out;
  auto err = impl_->store->scan(column::timer, "", "", [&](std::string_view k, std::string_view v) {
    auto env = decode<envelope>(v);
    if (k.size() == 16 && env && to(env->to))
      out.push_back(actor_row{column::timer, std::string{k}, std::string{v}});
    return true;
  });
  if (err)
    return err;
  return out;
}

caf::error runtime::erase_rows(const std::vector<actor_row>& rows) {
  auto& d = *impl_;
  constexpr size_t per_commit = 2048;
  for (size_t i = 0; i < rows.size(); i += per_commit) {
    internal::commit_request req;
    int64_t mail = 0, timers = 0;
    for (size_t j = i; j < std::min(rows.size(), i + per_commit); ++j) {
      req.ops.erase(rows[j].family, rows[j].key);
      mail += rows[j].family == column::mailbox ? 1 : 0;
      timers += rows[j].family == column::timer ? 1 : 0;
    }
    if (auto err = d.commit_and_wait(req))
      return err;
    d.pending.fetch_sub(mail);
    d.timers.fetch_sub(timers);
  }
  return {};
}

void runtime::import_actor_rows(std::vector<actor_row> rows, std::function<void(caf::error)> done) {
  auto& d = *impl_;
  internal::commit_request req;
  int64_t mail = 0;
  for (auto& r : rows) {
    if (r.family == column::timer) {
      auto env = decode<envelope>(r.value);
      if (r.key.size() != 16 || !env)
        return done(make_error(errc::corrupt_record, "a handed-over timer is malformed"));
      // Sent twice (the sender stopped before deleting its copy): held once.
      bool held = false;
      auto due = r.key.substr(0, 8);
      if (auto err =
            d.store->scan(column::timer, due, "", [&](std::string_view, std::string_view v) {
              auto mine = decode<envelope>(v);
              held = mine && mine->id == env->id;
              return !held;
            }))
        return done(std::move(err));
      if (!held)
        req.timers.emplace_back(static_cast<int64_t>(keys::read_be64(r.key)), std::move(*env));
      continue;
    }
    if (r.family == column::mailbox) {
      std::string_view actor;
      uint64_t seq = 0;
      if (!keys::split_actor_seq(r.key, actor, seq))
        return done(make_error(errc::corrupt_record, "a handed-over mailbox key is malformed"));
      req.import_mailbox.emplace_back(std::string{actor}, std::move(r.value));
      ++mail;
    } else if (r.family == column::journal || r.family == column::snapshot
               || r.family == column::dedupe) {
      req.ops.put(r.family, std::move(r.key), std::move(r.value));
    } else {
      return done(make_error(errc::invalid_argument, "a handover carries only mailbox, journal, "
                                                     "snapshot, idempotency and timer rows"));
    }
  }
  auto cb = std::make_shared<std::function<void(caf::error)>>(std::move(done));
  req.done = [&d, cb, mail](internal::commit_result& r) { // timers: counted by on_committed
    if (!r.err)
      d.pending.fetch_add(mail);
    (*cb)(std::move(r.err));
  };
  if (!d.coord_live.load() || !d.coord->submit(req, true))
    (*cb)(make_error(errc::shutting_down, "the node is stopping"));
}

caf::expected<size_t>
runtime::delete_actor_rows(const std::function<bool(std::string_view)>& owns) {
  auto& d = *impl_;
  auto rows = export_actor_rows(owns);
  if (!rows)
    return rows.error();
  constexpr size_t per_commit = 2048;
  for (size_t i = 0; i < rows->size(); i += per_commit) {
    internal::commit_request req;
    int64_t mail = 0;
    for (size_t j = i; j < std::min(rows->size(), i + per_commit); ++j) {
      auto& r = (*rows)[j];
      req.ops.erase(r.family, std::move(r.key));
      mail += r.family == column::mailbox ? 1 : 0;
    }
    if (auto err = d.commit_and_wait(req))
      return err;
    d.pending.fetch_sub(mail);
  }
  return rows->size();
}

void runtime::evict_actors(const std::function<bool(std::string_view)>& owns) {
  std::vector<caf::actor> handles;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, r] : sh.routes)
      if (owns(id))
        handles.push_back(r.handle);
  }
  for (auto& h : handles)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

void runtime::wake_stored() {
  impl_->request_sweep();
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

} // namespace cairn
