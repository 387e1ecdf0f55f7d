// SPDX-License-Identifier: Apache-2.0
// The read model and operator actions: dead letters (list, find, redrive,
// discard), journals, timers, actor ids and summaries, topics.
#include <tuple>

#include "internal/runtime_impl.hpp"
#include "internal/span_codec.hpp"

namespace cairn {

caf::expected<std::vector<dead_letter>> runtime::dead_letters(size_t limit,
                                                              std::string_view after) {
  std::vector<dead_letter> out;
  std::string from{after};
  if (!from.empty())
    from.push_back('\0'); // exclusive
  auto err = impl_->store->scan(column::dead, "", from, [&](std::string_view, std::string_view v) {
    if (out.size() >= limit)
      return false;
    if (auto dl = decode<dead_letter>(v))
      out.push_back(std::move(*dl));
    return true;
  });
  if (err)
    return err;
  return out;
}

caf::expected<dead_letter> runtime::find_dead_letter(std::string_view id) {
  auto v = impl_->store->get(column::dead, id);
  if (!v)
    return std::move(v.error());
  if (!*v)
    return make_error(errc::not_found, "no dead letter with id " + std::string{id});
  return decode<dead_letter>(**v);
}

namespace {

// Waits for an asynchronous operator action (for callers that may block).
template <class F>
caf::error wait_for(F start) {
  auto promise = std::make_shared<std::promise<caf::error>>();
  auto future = promise->get_future();
  start([promise](caf::error err) { promise->set_value(std::move(err)); });
  return future.get();
}

} // namespace

caf::error runtime::redrive(std::string_view id) {
  return wait_for([&](auto done) { redrive_async(id, std::move(done)); });
}

caf::error runtime::discard(std::string_view id) {
  return wait_for([&](auto done) { discard_async(id, std::move(done)); });
}

void runtime::redrive_async(std::string_view id, std::function<void(caf::error)> done) {
  auto& d = *impl_;
  if (!d.accepting.load())
    return done(make_error(errc::shutting_down, "the node is not accepting messages"));
  auto dl = find_dead_letter(id);
  if (!dl)
    return done(std::move(dl.error()));
  if (!dl->raw.empty() || dl->env.to.empty() || !d.find_kind(dl->env.to))
    return done(make_error(
      errc::conflict,
      "dead letter " + std::string{id} + " cannot be redriven: "
        + (dl->raw.empty() ? "its receiver kind is not registered" : "it holds a corrupt record")));
  // The writer re-checks that the dead letter is still there when it builds
  // the batch (claim_dead): of concurrent redrives and discards of one id,
  // exactly one commits and the others get not_found.
  commit_request req;
  req.claim_dead = std::string{id};
  req.ops.erase(column::dead, std::string{id});
  auto env = std::move(dl->env);
  env.attempt = 0;
  env.not_before_ms = 0;
  req.enqueue.push_back(std::move(env));
  d.commit_async(req, [&d, done = std::move(done)](caf::error err) {
    if (!err)
      d.dead_stored.fetch_sub(1);
    done(std::move(err));
  });
}

void runtime::discard_async(std::string_view id, std::function<void(caf::error)> done) {
  auto& d = *impl_;
  if (!d.accepting.load())
    return done(make_error(errc::shutting_down, "the node is not accepting changes"));
  auto v = d.store->get(column::dead, id);
  if (!v)
    return done(std::move(v.error()));
  if (!*v)
    return done(make_error(errc::not_found, "no dead letter with id " + std::string{id}));
  commit_request req;
  req.claim_dead = std::string{id};
  req.ops.erase(column::dead, std::string{id});
  d.commit_async(req, [&d, done = std::move(done)](caf::error err) {
    if (!err)
      d.dead_stored.fetch_sub(1);
    done(std::move(err));
  });
}

caf::error
runtime::read_journal(std::string_view actor_id, uint64_t from_seq, size_t limit,
                      const std::function<void(uint64_t, std::string_view, std::string_view)>& fn) {
  return read_journal(actor_id, from_seq, limit,
                      [&](const journal_entry& e) { fn(e.seq, e.type, e.payload); });
}

caf::error runtime::read_journal(std::string_view actor_id, uint64_t from_seq, size_t limit,
                                 const std::function<void(const journal_entry&)>& fn) {
  size_t n = 0;
  caf::error bad;
  auto err = impl_->store->scan(
    column::journal, keys::actor_prefix(actor_id), keys::actor_seq(actor_id, from_seq),
    [&](std::string_view k, std::string_view v) {
      if (n >= limit)
        return false;
      auto seq = keys::read_be64(k, k.size() - 8);
      auto rec = decode<journal_record>(v);
      if (!rec) {
        bad =
          make_error(errc::corrupt_record, "journal event " + std::to_string(seq) + " of "
                                             + std::string{actor_id} + ": " + render(rec.error()));
        return false;
      }
      journal_entry e{seq,          std::move(rec->type),  std::move(rec->payload),
                      rec->time_ms, std::move(rec->cause), std::move(rec->trace_id)};
      fn(e);
      ++n;
      return true;
    });
  return err ? err : bad;
}

caf::expected<std::vector<span_record>> runtime::trace_steps(std::string_view trace_id) {
  std::vector<span_record> out;
  if (trace_id.size() != 32)
    return make_error(errc::invalid_argument,
                      "invalid trace id '" + std::string{trace_id} + "': expected 32 hex digits");
  for (char c : trace_id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return make_error(errc::invalid_argument, "invalid trace id '" + std::string{trace_id}
                                                  + "': expected 32 lowercase hex digits");
  // The rows after the index's cursor are read whole (a second's worth:
  // the index follows every second), then the rows the index names, hour by
  // hour of retention. Reading the cursor first means a row indexed
  // meanwhile is found either way; a row named twice is read once, and one
  // the index names that retention deleted is skipped.
  auto& store = *impl_->store;
  auto at = store.get(column::trace_index, keys::span_index_cursor);
  if (!at)
    return std::move(at.error());
  std::unordered_set<std::string> read;
  auto take = [&](std::string_view row, std::string_view value) {
    read.emplace(row);
    // A span that does not decode is skipped; it expires like the others.
    internal::for_each_span(row, value, [&](std::string_view key, std::string_view span) {
      if (key.size() > 8 + keys::trace_id_size && key.substr(8, keys::trace_id_size) == trace_id)
        if (auto s = internal::decode_span(key, span))
          out.push_back(std::move(*s));
    });
  };
  std::string from = at->value_or(std::string{});
  if (!from.empty())
    from.push_back('\0');
  auto err = store.scan(column::trace, "", from, [&](std::string_view k, std::string_view v) {
    take(k, v);
    return true;
  });
  if (err)
    return err;
  auto now = static_cast<uint64_t>(std::max<int64_t>(now_us(), 0));
  auto span = static_cast<uint64_t>(impl_->opts.span_retention.count()) * 1000;
  auto first = (now > span ? now - span : 0) / keys::span_bucket_us;
  std::vector<std::string> named;
  for (auto hour = first == 0 ? 0 : first - 1; hour <= now / keys::span_bucket_us + 1; ++hour) {
    auto prefix = keys::span_index_prefix(static_cast<uint32_t>(hour), trace_id);
    err = store.scan(column::trace_index, prefix, "", [&](std::string_view k, std::string_view) {
      named.emplace_back(k.substr(prefix.size()));
      return true;
    });
    if (err)
      return err;
  }
  for (const auto& key : named) {
    if (read.count(key) != 0)
      continue;
    auto row = store.get(column::trace, key);
    if (!row)
      return std::move(row.error());
    if (*row)
      take(key, **row);
  }
  // In the order they ran: a step caused by another starts after it, but
  // within the same microsecond the depth in the causal tree decides.
  std::unordered_map<std::string, const span_record*> by_id;
  for (const auto& s : out)
    by_id.emplace(s.span_id, &s);
  std::unordered_map<std::string, size_t> depth;
  for (const auto& s : out) {
    size_t d = 0;
    for (auto* p = &s; d < out.size(); ++d) {
      auto it = by_id.find(p->parent_span_id);
      if (it == by_id.end())
        break;
      p = it->second;
    }
    depth[s.span_id] = d;
  }
  std::stable_sort(out.begin(), out.end(), [&](const span_record& a, const span_record& b) {
    return std::make_tuple(a.start_us, depth[a.span_id], a.end_us)
           < std::make_tuple(b.start_us, depth[b.span_id], b.end_us);
  });
  return out;
}

caf::expected<runtime::span_page> runtime::read_spans(std::string_view after, int64_t until_us,
                                                      size_t max, bool decode) {
  span_page page;
  if (max == 0)
    return page;
  std::string from{after};
  if (!from.empty())
    from.push_back('\0'); // strictly after it
  auto until = static_cast<uint64_t>(std::max<int64_t>(until_us, 0));
  auto err =
    impl_->store->scan(column::trace, "", from, [&](std::string_view k, std::string_view v) {
      if (k.size() < 8 || keys::read_be64(k) >= until)
        return false;
      page.next.assign(k);
      bool whole = internal::for_each_span(k, v, [&](std::string_view key, std::string_view span) {
        ++page.rows;
        if (!decode)
          return;
        if (auto s = internal::decode_span(key, span))
          page.spans.push_back(std::move(*s));
        else
          ++page.undecodable;
      });
      if (!whole)
        ++page.undecodable;
      return page.rows < max;
    });
  if (err)
    return err;
  return page;
}

void runtime::record_spans(std::vector<span_record> spans) {
  auto& d = *impl_;
  if (!d.opts.record_spans || spans.empty())
    return;
  std::string members;
  for (const auto& s : spans) {
    if (s.trace_id.size() != keys::trace_id_size || s.span_id.empty())
      continue;
    internal::append_span_member(members, s);
  }
  // Lost only with the node: a span, not a step. Written with the next
  // batch (a request's span recorded as it is answered rides along with
  // the commits under way).
  if (!members.empty() && d.coord_live.load())
    d.coord->add_spans(members);
}

std::string runtime::span_cursor_at(int64_t us) {
  // Every key of a span that ended at `us` is longer than this prefix, so
  // greater: "after it" starts there. One microsecond earlier, to keep
  // the spans of `us` itself.
  std::string key;
  keys::append_be64(key, static_cast<uint64_t>(std::max<int64_t>(us - 1, 0)));
  key.append(keys::trace_id_size + 16, '\xff');
  return key;
}

caf::expected<runtime::keyed_message>
runtime::find_by_idempotency_key(std::string_view idempotency_key, std::string_view to) {
  if (idempotency_key.empty())
    return make_error(errc::invalid_argument, "an idempotency key must not be empty");
  auto parse = [](std::string_view key, std::string_view v) -> std::optional<keyed_message> {
    if (v.size() <= 8)
      return std::nullopt;
    auto rest = v.substr(8);
    keyed_message m;
    m.to = std::string{key.substr(0, key.find('\0'))};
    auto sep = rest.find('\0');
    m.envelope_id = std::string{rest.substr(0, sep)};
    if (sep != std::string_view::npos)
      m.trace_id = std::string{rest.substr(sep + 1)};
    return m;
  };
  std::optional<keyed_message> found;
  if (!to.empty()) {
    std::string key{to};
    key.push_back('\0');
    key += idempotency_key;
    auto v = impl_->store->get(column::dedupe, key);
    if (!v)
      return std::move(v.error());
    if (*v)
      found = parse(key, **v);
  } else {
    // No receiver given: every claim is looked at (bounded by the dedupe
    // window's rows).
    std::string suffix(1, '\0');
    suffix += idempotency_key;
    auto err =
      impl_->store->scan(column::dedupe, "", "", [&](std::string_view k, std::string_view v) {
        if (k.size() > suffix.size() && k.substr(k.size() - suffix.size()) == suffix
            && k.find('\0') == k.size() - suffix.size()) {
          found = parse(k, v);
          return false;
        }
        return true;
      });
    if (err)
      return err;
  }
  if (!found)
    return make_error(errc::not_found, "no message with idempotency key '"
                                         + std::string{idempotency_key}
                                         + "' within the dedupe window");
  return *found;
}

caf::expected<std::vector<runtime::timer_info>> runtime::timers(size_t limit) {
  std::vector<timer_info> out;
  auto err = impl_->store->scan(column::timer, "", "", [&](std::string_view k, std::string_view v) {
    if (out.size() >= limit || k.size() != 16)
      return false;
    timer_info t;
    t.due_ms = static_cast<int64_t>(keys::read_be64(k));
    if (auto env = decode<envelope>(v)) {
      t.to = env->to;
      t.type = env->type;
      t.envelope_id = env->id;
    } else {
      t.type = "(corrupt)";
    }
    out.push_back(std::move(t));
    return true;
  });
  if (err)
    return err;
  return out;
}

namespace {

// Collects distinct `kind/...` actor ids of one column family, skipping from
// one actor's rows to the next with a seek each.
caf::error distinct_actors(storage& st, column cf, const std::string& prefix, std::string cursor,
                           size_t limit, std::vector<std::string>& out) {
  while (out.size() < limit) {
    std::string found;
    auto err = st.scan(cf, prefix, cursor, [&](std::string_view k, std::string_view) {
      std::string_view actor;
      uint64_t seq = 0;
      if (keys::split_actor_seq(k, actor, seq))
        found = std::string{actor};
      return false;
    });
    if (err)
      return err;
    if (found.empty())
      return {};
    out.push_back(found);
    cursor = found + '\x01'; // past every `found \0 seq` row
  }
  return {};
}

} // namespace

caf::expected<std::vector<std::string>> runtime::actor_ids(std::string_view kind,
                                                           std::string_view after, size_t limit) {
  auto& st = *impl_->store;
  std::string prefix = kind.empty() ? std::string{} : std::string{kind} + "/";
  std::string cursor = after.empty() ? std::string{} : std::string{after} + '\x01';
  std::vector<std::string> a, b;
  if (auto err = distinct_actors(st, column::journal, prefix, cursor, limit, a))
    return err;
  if (auto err = distinct_actors(st, column::mailbox, prefix, cursor, limit, b))
    return err;
  std::vector<std::string> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  if (out.size() > limit)
    out.resize(limit);
  return out;
}

caf::expected<runtime::actor_summary> runtime::describe(std::string_view id) {
  auto& d = *impl_;
  actor_summary s;
  s.id = std::string{id};
  auto prefix = keys::actor_prefix(id);
  bool first = true;
  auto err = d.store->scan(column::mailbox, prefix, "", [&](std::string_view, std::string_view v) {
    if (first) {
      first = false;
      if (auto rec = decode<mailbox_record>(v)) {
        s.head_attempts = rec->env.attempt;
        s.last_error = rec->last_error;
      } else {
        s.last_error = "corrupt record: " + render(rec.error());
      }
    }
    return ++s.mailbox_depth < 1'000'000;
  });
  if (err)
    return err;
  if (auto e = d.store->last(column::journal, prefix, [&](std::string_view k, std::string_view) {
        s.journal_length = keys::read_be64(k, k.size() - 8);
        return false;
      }))
    return e;
  auto snap = d.store->get(column::snapshot, id);
  if (!snap)
    return std::move(snap.error());
  if (*snap && (*snap)->size() >= 8)
    s.snapshot_seq = keys::read_be64(**snap);
  // Events a snapshot covers may have been pruned (journal retention).
  s.journal_length = std::max(s.journal_length, s.snapshot_seq);
  {
    auto key = std::string{id};
    auto& sh = d.shard_for(key);
    std::lock_guard<std::mutex> guard{sh.mtx};
    s.active = sh.routes.count(key) != 0;
    if (auto it = sh.stopped.find(key); it != sh.stopped.end()) {
      s.stopped = true;
      s.stop_reason = it->second;
    }
  }
  if (s.mailbox_depth == 0 && s.journal_length == 0 && s.snapshot_seq == 0 && !s.active)
    return make_error(errc::not_found, "no actor " + s.id + " on this node");
  // State is derived: rebuild it from storage (snapshot + journal) in a
  // private instance, never by reaching into the live activation.
  if (const auto* kind = d.find_kind(id); kind != nullptr && !s.stopped) {
    activation_state probe;
    probe.id = s.id;
    probe.kind = kind;
    try {
      if (auto lerr = d.load_state(probe))
        s.state_error = render(lerr);
      else if (auto text = probe.impl->describe())
        s.state_json = std::move(*text);
    } catch (const std::exception& e) {
      s.state_error = std::string{"cannot rebuild the state: "} + e.what();
    } catch (...) {
      s.state_error = "cannot rebuild the state: a non-standard exception";
    }
  }
  return s;
}

caf::expected<std::vector<runtime::topic_info>> runtime::topics(size_t limit) {
  auto& st = *impl_->store;
  std::map<std::string, topic_info> found;
  std::string cursor;
  while (found.size() < limit) {
    std::string name;
    uint64_t last = 0;
    auto err = st.scan(column::topic, "", cursor, [&](std::string_view k, std::string_view) {
      std::string_view topic;
      uint64_t seq = 0;
      if (keys::split_actor_seq(k, topic, seq))
        name = std::string{topic};
      return false;
    });
    if (err)
      return err;
    if (name.empty())
      break;
    ignore_error(
      st.last(column::topic, keys::actor_prefix(name), [&](std::string_view k, std::string_view) {
        last = keys::read_be64(k, k.size() - 8) + 1;
        return false;
      }));
    found[name].name = name;
    found[name].events = last;
    cursor = name + '\x01';
  }
  auto err = st.scan(column::subscription, "", "", [&](std::string_view k, std::string_view v) {
    auto pos = k.find('\0');
    if (pos == std::string_view::npos || v.size() != 8)
      return true;
    std::string name{k.substr(0, pos)};
    if (found.count(name) == 0 && found.size() >= limit)
      return true;
    found[name].name = name;
    found[name].subscriptions.emplace_back(std::string{k.substr(pos + 1)}, keys::read_be64(v));
    return true;
  });
  if (err)
    return err;
  std::vector<topic_info> out;
  for (auto& [name, t] : found)
    out.push_back(std::move(t));
  return out;
}

} // namespace cairn
