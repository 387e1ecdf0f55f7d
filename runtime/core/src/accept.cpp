// SPDX-License-Identifier: Apache-2.0
// Accepting messages from outside (runtime::accept and its batch and async
// forms): each envelope checked and completed, room reserved under the
// pending cap, and one commit request handed to the writer.
#include <algorithm>

#include "internal/derived_ids.hpp"
#include "internal/runtime_impl.hpp"

namespace cairn {

namespace {

caf::error not_accepting(runtime::impl& d) {
  if (!d.accepting.load())
    return make_error(errc::shutting_down, "the node is not accepting messages");
  return {};
}

/// Refused at once while storage is unwritable; the services thread retries it.
caf::error unwritable(runtime::impl& d) {
  if (auto health = d.store->health(); !health.writable)
    return make_error(errc::storage_write_failed,
                      "storage is not writable (" + health.reason + "); retry after 1 s");
  return {};
}

/// Checks `env` from outside and completes what its sender left out: an
/// id (made from `clock`, a value of the id clock taken for it, if given),
/// the time it was made (`now`), a trace. `kind` gets its receiver's kind.
caf::error check_incoming(runtime::impl& d, envelope& env, const kind_entry*& kind, int64_t now,
                          const uint64_t* clock = nullptr, internal::step_hint* hint = nullptr) {
  if (!valid_actor_id(env.to))
    return make_error(errc::invalid_argument,
                      "invalid actor id '" + env.to + "': expected kind/key");
  kind = d.find_kind(env.to);
  if (!kind)
    return make_error(errc::unknown_actor_kind, "no actor kind '" + std::string{kind_of(env.to)}
                                                  + "' is registered on this node");
  if (env.type.empty())
    return make_error(errc::invalid_argument, "message type is empty");
  // An id this node makes now: its trace can be derived from it.
  bool own_id = env.id.empty();
  uint64_t id_clock = 0;
  if (own_id) {
    id_clock = clock != nullptr ? *clock : internal::take_id_clocks(1);
    env.id = internal::envelope_id_at(id_clock);
  }
  if (env.from.empty())
    env.from = "external";
  if (env.created_ms == 0)
    env.created_ms = now;
  std::string_view trace_id, span_id; // checked in place: no copies
  bool derived = false;
  if (!traceparent_ids(env.traceparent, trace_id, span_id)) {
    // A new trace. Taken from the id this node gave the message, its steps'
    // spans can leave it out (internal/derived_ids.hpp).
    derived = own_id;
    env.traceparent = own_id ? internal::derived_traceparent(id_clock, internal::process_id_tag())
                             : new_traceparent();
  }
  // What this thread made, handed to the message's steps (`step_hint`).
  if (hint != nullptr && own_id)
    *hint = internal::step_hint{internal::envelope_id_hash(env.id), id_clock,
                                internal::process_id_tag(), derived};
  return {};
}

/// Reserves room for `n` more pending messages, so concurrent accepts can
/// never overshoot the cap; `busy` if there is none.
caf::error reserve(runtime::impl& d, int64_t n) {
  auto load = d.reserved.fetch_add(n) + d.pending.load();
  if (load + n > static_cast<int64_t>(d.opts.max_pending)) {
    d.reserved.fetch_sub(n);
    d.busy.fetch_add(1);
    return make_error(errc::busy, "node holds " + std::to_string(load) + " pending messages (cap "
                                    + std::to_string(d.opts.max_pending) + "); retry after 100 ms");
  }
  return {};
}

} // namespace

void runtime::accept_batch(std::vector<envelope> envs,
                           std::function<void(std::vector<batch_result>)> done) {
  auto& d = *impl_;
  auto results = std::make_shared<std::vector<batch_result>>(envs.size());
  if (auto err = not_accepting(d)) {
    for (auto& r : *results)
      r.id = err;
    return done(std::move(*results));
  }
  commit_request req;
  std::vector<size_t> slot; // envelope of req.enqueue -> result
  // The batch's kinds, each once, and each envelope's among them: counted
  // per kind once the write is done, not per message.
  std::vector<std::shared_ptr<kind_counters>> kinds;
  std::vector<uint32_t> kind_of_env;
  slot.reserve(envs.size());
  kind_of_env.reserve(envs.size());
  // One clock reading and one step of the id clock for the whole batch.
  auto now = now_ms();
  auto unnamed = static_cast<uint64_t>(
    std::count_if(envs.begin(), envs.end(), [](const envelope& e) { return e.id.empty(); }));
  auto next_clock = unnamed > 0 ? internal::take_id_clocks(unnamed) : 0;
  std::vector<internal::step_hint> hints(envs.size());
  for (size_t i = 0; i < envs.size(); ++i) {
    const kind_entry* kind = nullptr;
    bool unnamed_env = envs[i].id.empty();
    auto clock = unnamed_env ? next_clock++ : 0;
    if (auto err =
          check_incoming(d, envs[i], kind, now, unnamed_env ? &clock : nullptr, &hints[i])) {
      (*results)[i].id = std::move(err);
      continue;
    }
    auto at = kinds.empty() || kinds.back() != kind->counters
                ? std::find(kinds.begin(), kinds.end(), kind->counters) - kinds.begin()
                : static_cast<ptrdiff_t>(kinds.size() - 1);
    if (static_cast<size_t>(at) == kinds.size())
      kinds.push_back(kind->counters);
    kind_of_env.push_back(static_cast<uint32_t>(at));
    slot.push_back(i);
  }
  // All of them, as they usually are: the vector itself, not each envelope again.
  if (slot.size() == envs.size()) {
    req.enqueue = std::move(envs);
    req.hints = std::move(hints);
  } else {
    req.enqueue.reserve(slot.size());
    req.hints.reserve(slot.size());
    for (auto i : slot) {
      req.enqueue.push_back(std::move(envs[i]));
      req.hints.push_back(hints[i]);
    }
  }
  auto n = static_cast<int64_t>(slot.size());
  if (n == 0)
    return done(std::move(*results));
  auto err = unwritable(d);
  if (!err)
    err = reserve(d, n);
  if (err) {
    for (auto i : slot)
      (*results)[i].id = err;
    return done(std::move(*results));
  }
  // Only a message with an idempotency key can turn out a duplicate (its
  // result then carries the first one's id): only those ids are kept, in
  // a vector made only for a batch that has such a message.
  std::vector<std::string> own_ids;
  for (size_t k = 0; k < req.enqueue.size(); ++k) {
    auto& env = req.enqueue[k];
    if (!env.idempotency_key.empty()) {
      own_ids.resize(req.enqueue.size());
      own_ids[k] = env.id;
    }
  }
  req.records = internal::record_block{req.enqueue};
  req.dedupe = true;
  auto cb = std::make_shared<std::function<void(std::vector<batch_result>)>>(std::move(done));
  // `slot` is copied (the refusal below reads it), the rest moved.
  req.done = [p = &d, cb, results, slot, kinds = std::move(kinds),
              kind_of_env = std::move(kind_of_env), own_ids = std::move(own_ids),
              n](commit_result& r) {
    p->reserved.fetch_sub(n);
    std::vector<uint64_t> accepted(kinds.size());
    uint64_t duplicates = 0;
    for (size_t k = 0; k < slot.size(); ++k) {
      auto& out = (*results)[slot[k]];
      if (r.err || k >= r.ids.size()) {
        out.id = r.err ? r.err : make_error(errc::storage_write_failed, "no id for this message");
        continue;
      }
      out.duplicate = !own_ids.empty() && !own_ids[k].empty() && r.ids[k] != own_ids[k];
      out.id = std::move(r.ids[k]); // nothing reads the commit's result after this
      ++(out.duplicate ? duplicates : accepted[kind_of_env[k]]);
    }
    uint64_t total = 0;
    for (size_t at = 0; at < kinds.size(); ++at)
      if (accepted[at] > 0) {
        kinds[at]->accepted.fetch_add(accepted[at]);
        total += accepted[at];
      }
    if (total > 0)
      p->accepted.fetch_add(total);
    if (duplicates > 0)
      p->duplicates.fetch_add(duplicates);
    (*cb)(std::move(*results));
  };
  if (!d.coord->submit(req, false)) {
    d.reserved.fetch_sub(n);
    d.busy.fetch_add(1);
    auto full = make_error(errc::busy, "commit queue full; retry after 100 ms");
    for (auto i : slot)
      (*results)[i].id = full;
    (*cb)(std::move(*results));
  }
}

namespace {

void accept_one(runtime::impl& d, envelope env, bool fresh,
                std::function<void(caf::expected<std::string>)> done) {
  if (auto err = not_accepting(d))
    return done(std::move(err));
  const kind_entry* kind = nullptr;
  if (auto err = check_incoming(d, env, kind, now_ms()))
    return done(std::move(err));
  if (auto err = unwritable(d))
    return done(std::move(err));
  if (auto err = reserve(d, 1))
    return done(std::move(err));
  commit_request req;
  req.enqueue.push_back(std::move(env));
  req.dedupe = true;
  req.fresh = fresh;
  auto cb = std::make_shared<std::function<void(caf::expected<std::string>)>>(std::move(done));
  req.done = [p = &d, cb, counters = kind->counters](commit_result& r) {
    p->reserved.fetch_sub(1);
    if (r.err)
      return (*cb)(std::move(r.err));
    if (r.duplicates > 0) {
      p->duplicates.fetch_add(1);
    } else {
      p->accepted.fetch_add(1);
      counters->accepted.fetch_add(1);
    }
    (*cb)(r.ids.front());
  };
  if (!d.coord->submit(req, false)) {
    d.reserved.fetch_sub(1);
    d.busy.fetch_add(1);
    (*cb)(make_error(errc::busy, "commit queue full; retry after 100 ms"));
  }
}

} // namespace

void runtime::accept_async(envelope env, std::function<void(caf::expected<std::string>)> done) {
  accept_one(*impl_, std::move(env), false, std::move(done));
}

void runtime::accept_new_async(envelope env, std::function<void(caf::expected<std::string>)> done) {
  accept_one(*impl_, std::move(env), true, std::move(done));
}

caf::expected<std::string> runtime::accept(envelope env) {
  std::promise<caf::expected<std::string>> promise;
  auto future = promise.get_future();
  accept_async(std::move(env),
               [&promise](caf::expected<std::string> r) { promise.set_value(std::move(r)); });
  return future.get();
}

} // namespace cairn
