// SPDX-License-Identifier: Apache-2.0
#include "internal/commit_coordinator.hpp"

#include <algorithm>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <unordered_set>

#include "cairn/codec.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

namespace cairn::internal {

namespace {

// Staged accepts need a router and a single node (no placement, no admission).
commit_coordinator::settings checked(commit_coordinator::settings s, bool routes) {
  if (!routes || s.place || s.admit)
    s.stage_wait = std::chrono::microseconds{0};
  return s;
}

} // namespace

commit_coordinator::commit_coordinator(storage& store, settings s, uint64_t next_seq,
                                       delivered_fn on_batch_delivered, staged_fn on_staged)
  : store_(store), settings_(checked(std::move(s), static_cast<bool>(on_staged))),
    next_seq_(next_seq), on_delivered_(std::move(on_batch_delivered)),
    on_staged_(std::move(on_staged)), hw_written_(next_seq), writer_([this] { run(); }) {
  // Named here, not once it runs: a caller may look for it right after this.
  pthread_setname_np(writer_.native_handle(), "cairn.commit");
}

commit_coordinator::~commit_coordinator() {
  stop();
}

void commit_coordinator::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_ && !writer_.joinable())
      return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable())
    writer_.join();
}

bool commit_coordinator::bind(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= CPU_SETSIZE || (cpu < 0 && sched_getaffinity(0, sizeof set, &set) != 0))
    return false;
  if (cpu >= 0)
    CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(writer_.native_handle(), sizeof set, &set) != 0)
    return false;
  cpu_.store(cpu < 0 ? -1 : cpu, std::memory_order_relaxed);
  return true;
}

void commit_coordinator::run() {
  // Rows written from now on sort after the last one there is.
  ignore_error(store_.last(column::trace, "", [&](std::string_view k, std::string_view) {
    if (k.size() >= 8)
      last_span_us_ = keys::read_be64(k);
    return false;
  }));
  std::vector<commit_request> batch;
  std::string loose;
  for (;;) {
    bool may_stage = false;
    {
      std::unique_lock<std::mutex> lock{mtx_};
      writer_idle_ = true;
      auto work = [this] {
        return (stopping_ && joining_ == 0) || !queue_.empty() || !loose_spans_.empty()
               || stage_size_ > 0;
      };
      // Carried rows wait for their steps, which wake the writer; written
      // without them once `stage_wait` is over.
      if (carried_rows_.empty())
        cv_.wait(lock, work);
      else
        cv_.wait_until(lock, carried_until_, work);
      writer_idle_ = false;
      if (queue_.empty() && loose_spans_.empty() && stage_size_ == 0 && carried_rows_.empty()
          && stopping_)
        return;
      wait_for_steps(lock);
      open_epoch_ = 0; // later answers are for a stage already written
      no_step_coming_.clear();
      no_step_coming_.swap(stepless_);
      may_stage = !stopping_ && settings_.stage_wait.count() > 0;
      if (settings_.max_wait.count() > 0 && queue_.size() < settings_.max_batch && !stopping_) {
        // Linger for a fuller batch; new requests do not wake us (writer_idle_
        // stays false), the deadline does.
        lock.unlock();
        std::this_thread::sleep_for(settings_.max_wait);
        lock.lock();
      }
      while (!queue_.empty() && batch.size() < settings_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        queued_accepts_ -= batch.back().home.empty() && !batch.back().enqueue.empty() ? 1 : 0;
      }
      loose.swap(loose_spans_);
    }
    commit(batch, loose, may_stage);
    loose.clear();
    batch.clear();
  }
}

// The spans of a batch share one `trace` row (span_codec.hpp): one key and
// value in the log, the memtable and the flush instead of one per step. The
// steps encoded them as members already; here they are only concatenated.
// The row's key is the batch's time, later than every row before it, with
// the ids of its first span.
void commit_coordinator::put_spans(write_set& ws, std::string& group) {
  auto at = std::max(static_cast<uint64_t>(now_us()), last_span_us_ + 1);
  size_t pos = 1;
  std::string first;
  std::string_view value;
  bool ok = true;
  internal::span_group_reader reader;
  if (!internal::next_in_group(group, pos, first, value, ok, reader))
    return; // not written by this build's steps: nothing to keep
  ws.put(column::trace, keys::span(at, std::string_view{first}.substr(8), {}), std::move(group));
  last_span_us_ = at;
}

void commit_coordinator::add_spans(std::string_view members) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_)
      return; // as a request is refused then: a span, not a step
    loose_spans_.append(members);
    wake = writer_idle_;
  }
  if (wake)
    cv_.notify_one();
}

void commit_coordinator::commit(std::vector<commit_request>& batch, std::string_view loose,
                                bool may_stage) {
  std::unique_lock<std::mutex> stage_lock{stage_mtx_};
  write_set ws;
  std::vector<commit_result> results(batch.size());
  // Idempotency keys claimed earlier in this same batch: receiver \0 key -> id.
  std::unordered_map<std::string, std::string> claimed;
  // Dead letters consumed earlier in this same batch.
  std::unordered_set<std::string> dead_claimed;
  std::vector<bool> refused(batch.size(), false);
  std::vector<bool> staging(batch.size(), false);
  std::unordered_map<std::string, placement> placed; // actor -> where this batch put it
  auto now = now_ms();
  std::string spans; // the batch's group row: the format byte, then members
  if (!loose.empty()) {
    spans.push_back(static_cast<char>(internal::span_group_format));
    spans.append(loose);
  }
  // Steps of staged rows: refused if the row's write failed; a row of the
  // stage written now whose step is here too is dropped with its deletion.
  auto in_stage = [&](uint64_t seq) { return staged_at(seq) != nullptr; };
  // Accepts are numbered in the order they came: one that this write puts
  // (with a key, say) is not overtaken by a staged one queued before it,
  // which is then written now too. Only accepts after the last such one
  // are staged.
  size_t first_stageable = 0;
  for (size_t i = 0; may_stage && i < batch.size(); ++i)
    if (batch[i].home.empty() && !batch[i].enqueue.empty() && !stageable(batch[i]))
      first_stageable = i + 1;
  // Receivers of accepts this write puts (routed after it): a staged row
  // for one of them is routed after them.
  std::unordered_set<std::string> hold;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& req = batch[i];
    if (may_stage && i >= first_stageable && stageable(req)) {
      staging[i] = true;
      continue;
    }
    if (may_stage && req.home.empty())
      for (const auto& env : req.enqueue)
        hold.insert(env.to);
    if (!req.home.empty() && !tainted_.empty() && tainted_.count(req.home) != 0) {
      if (req.follows) {
        refused[i] = true;
        results[i].err = make_error(errc::storage_write_failed,
                                    "the actor's step before this one failed; this one runs again "
                                    "after it");
        continue;
      }
      tainted_.erase(req.home); // built on the state rebuilt after the failure
    }
    if (req.consumes.empty() && req.after_rows.empty())
      continue;
    auto lost = [this](uint64_t seq) { return in_failed_stage(seq); };
    if (std::any_of(req.consumes.begin(), req.consumes.end(), lost)
        || std::any_of(req.after_rows.begin(), req.after_rows.end(), lost)) {
      refused[i] = true;
      tainted_.insert(req.home); // now: a request following it may be in this batch
      results[i].err = make_error(errc::storage_write_failed,
                                  "the message this step handled was not accepted (its write "
                                  "failed); nothing of the step is kept");
      continue;
    }
    for (auto seq : req.consumes)
      if (auto* row = staged_at(seq))
        row->cancelled = true;
    for (auto seq : req.after_rows) // its retry record replaces the row: written first, now
      if (auto* row = staged_at(seq))
        row->pinned = true;
  }
  // The stage's rows, before any request's ops (a failed step's retry
  // record for one of them replaces it).
  auto carries = put_stage_rows(ws, spans, hold, may_stage);
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& req = batch[i];
    auto& res = results[i];
    if (staging[i] || refused[i])
      continue;
    if (!req.claim_dead.empty()) {
      auto found = dead_claimed.count(req.claim_dead) != 0
                     ? caf::expected<std::optional<std::string>>{std::nullopt}
                     : store_.get(column::dead, req.claim_dead);
      if (!found || !*found) {
        refused[i] = true;
        res.err = !found ? std::move(found.error())
                         : make_error(errc::not_found, "no dead letter with id " + req.claim_dead
                                                         + " (it may just have been redriven or "
                                                           "discarded)");
        continue;
      }
      dead_claimed.insert(req.claim_dead);
    }
    // The admission seam: a shard this node does not own (or hands over)
    // takes no step and no forwarded envelope; nothing of the request is written.
    if (settings_.admit) {
      bool ok = req.home.empty() || settings_.admit(req.home);
      for (size_t e = 0; ok && req.local_admitted && e < req.enqueue.size(); ++e)
        ok = settings_.admit(req.enqueue[e].to);
      if (!ok) {
        refused[i] = true;
        if (!req.claim_dead.empty())
          dead_claimed.erase(req.claim_dead);
        res.err = make_error(errc::shard_not_owned,
                             "this node does not own the actor's shard now (it moved, or is "
                             "being handed over)");
        continue;
      }
    }
    if (req.fires_timer && settings_.fires && !req.enqueue.empty()
        && !settings_.fires(req.enqueue.front().to)) {
      refused[i] = true;
      res.err = make_error(errc::busy, "this timer is held here now (its shard is handed over)");
      continue;
    }
    // The placement seam, asked once per receiver before anything of the
    // request is written: a peer whose outbox is at its cap refuses the
    // whole request (`busy`), other peers and local actors are unaffected.
    // An actor keeps the placement it got first in this batch (in this
    // request or an earlier one, even one refused), so two envelopes to one
    // actor never take two paths: the answer may change between two asks (a
    // new map, a sticky count dropping to zero).
    std::vector<placement> where;
    if (!req.to_peer.empty()) {
      where.assign(req.enqueue.size(), placement::at(req.to_peer));
    } else if (settings_.place && !req.local_admitted) {
      where.reserve(req.enqueue.size());
      for (auto& env : req.enqueue) {
        auto seen = placed.find(env.to);
        if (seen == placed.end())
          seen = placed.emplace(env.to, settings_.place(env.to)).first;
        where.push_back(seen->second);
        if (where.back().full) {
          refused[i] = true;
          if (!req.claim_dead.empty())
            dead_claimed.erase(req.claim_dead);
          res.err = make_error(errc::busy, "messages for " + env.to
                                             + " cannot be taken now (the outbox toward node "
                                             + where.back().peer
                                             + " is full, or its shard is being handed over or "
                                               "fenced); retry after 1 s");
          break;
        }
      }
      if (refused[i])
        continue;
    }
    ws.append(std::move(req.ops));
    for (auto seq : req.consumes)
      if (!in_stage(seq)) { // written by an earlier write of this process: once
        ws.erase_once(column::mailbox, keys::actor_seq(req.home, seq));
        res.consumed_written = true;
      }
    if (!req.spans.empty()) {
      if (spans.empty()) {
        spans.reserve(req.spans.size() * batch.size() + 1);
        spans.push_back(static_cast<char>(internal::span_group_format));
      }
      spans.append(req.spans);
    }
    for (auto& [actor, record] : req.import_mailbox)
      ws.put(column::mailbox, keys::actor_seq(actor, next_seq_++), std::move(record));
    for (auto& key : req.expire_dedupe) {
      auto found = store_.get(column::dedupe, key);
      if (found && *found && (*found)->size() >= 8
          && static_cast<int64_t>(keys::read_be64(**found)) <= now && claimed.count(key) == 0)
        ws.erase(column::dedupe, std::move(key));
    }
    for (size_t e = 0; e < req.enqueue.size(); ++e) {
      auto& env = req.enqueue[e];
      bool check = req.dedupe || (e < req.dedupe_each.size() && req.dedupe_each[e]);
      if (check && !env.idempotency_key.empty()) {
        auto dkey = env.to + '\0' + env.idempotency_key;
        if (auto it = claimed.find(dkey); it != claimed.end()) {
          res.ids.push_back(it->second);
          ++res.duplicates;
          continue;
        }
        auto found = store_.get(column::dedupe, dkey);
        if (found && *found && (*found)->size() > 8
            && static_cast<int64_t>(keys::read_be64(**found)) > now) {
          // "<expiry><envelope id>\0<trace id>" (before: no trace id)
          auto rest = std::string_view{**found}.substr(8);
          res.ids.emplace_back(rest.substr(0, rest.find('\0')));
          ++res.duplicates;
          continue;
        }
        std::string value;
        keys::append_be64(value, static_cast<uint64_t>(now + settings_.dedupe_window_ms));
        value += env.id;
        trace_context tc;
        if (parse_traceparent(env.traceparent, tc)) {
          value.push_back('\0');
          value += tc.trace_id;
        }
        ws.put(column::dedupe, dkey, std::move(value));
        claimed.emplace(std::move(dkey), env.id);
      }
      auto seq = next_seq_++;
      res.ids.push_back(env.id);
      // A new row's record: the envelope, no failed attempt, no error (the
      // bytes `encode(mailbox_record{env, {}, {}})` would write, without
      // copying the envelope first).
      auto rec = req.records.size() == req.enqueue.size() ? std::string{req.records.at(e)}
                                                          : encode_new_mailbox_record(env);
      // The placement seam: a remote receiver's envelope goes to the outbox
      // toward its owner, in the same batch as the step that sent it.
      if (!where.empty() && !where[e].local()) {
        ws.put(column::outbox, keys::actor_seq(where[e].peer, seq), std::move(rec));
        ++res.forwarded;
        res.forwarded_to.emplace_back(std::move(where[e].peer), env.to);
        continue;
      }
      ws.put(column::mailbox, keys::actor_seq(env.to, seq), std::move(rec));
      res.delivered.push_back(
        routed{seq, std::move(env), req.fresh, false,
               req.hints.size() == req.enqueue.size() ? req.hints[e] : step_hint{}});
    }
    res.timers_added = req.timers.size();
    for (auto& [due, env] : req.timers)
      ws.put(column::timer, keys::timer(static_cast<uint64_t>(due), next_seq_++), encode(env));
    for (auto& [topic, ev] : req.publish) {
      auto it = topic_seq_.find(topic);
      if (it == topic_seq_.end()) {
        uint64_t last = 0;
        auto prefix = keys::actor_prefix(topic);
        ignore_error(store_.last(column::topic, prefix, [&](std::string_view k, std::string_view) {
          last = keys::read_be64(k, k.size() - 8) + 1;
          return false;
        }));
        it = topic_seq_.emplace(topic, last).first;
      }
      ws.put(column::topic, keys::actor_seq(topic, it->second++), encode(ev));
      res.topics.push_back(topic);
    }
  }
  for (size_t i = 0; i < batch.size(); ++i)
    if (refused[i] && !batch[i].home.empty())
      tainted_.insert(batch[i].home);
  if (!spans.empty())
    put_spans(ws, spans);
  if (next_seq_ != hw_written_) {
    std::string hw;
    keys::append_be64(hw, next_seq_);
    ws.put(column::meta, "seq", std::move(hw));
    hw_written_ = next_seq_;
  }
  // The next stage is numbered after every row of this write and routed
  // now: its steps run while this write is on its way.
  auto written_stage = std::move(stage_reqs_);
  auto stage_results = std::move(stage_res_);
  stage_reqs_.clear();
  stage_res_.clear();
  auto written_rows = std::move(stage_rows_);
  stage_rows_.clear();
  auto was_carried_rows = std::move(carried_rows_);
  auto was_carried_reqs = std::move(carried_reqs_);
  auto was_carried_res = std::move(carried_res_);
  carried_rows_.clear();
  carried_reqs_.clear();
  carried_res_.clear();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stage_size_ = 0;
  }
  stage(batch, staging, hold);
  caf::error err;
  if (!ws.empty())
    err = write_staging(ws, may_stage, stage_lock);
  size_t requests = batch.size() + written_stage.size();
  for (auto stages : staging)
    requests -= stages ? 1 : 0;
  if (requests > 0) // not for loose spans alone
    batch_sizes_.observe(static_cast<double>(requests));
  commits_.fetch_add(1, std::memory_order_relaxed);
  requests_.fetch_add(requests, std::memory_order_relaxed);
  if (err) {
    // Every request learns the batch failed. Part of it may still have
    // reached the log (a write error after the append) and come back at
    // the next open, so readers treat the disk as the truth and sequence
    // numbers are not reused (a gap is harmless; reuse is not). Steps of
    // the stage's rows that come later are refused.
    topic_seq_.clear();
    for (auto& row : was_carried_rows) // below the stage's rows
      failed_stages_.emplace_back(row.seq, row.seq + 1);
    if (!written_rows.empty())
      failed_stages_.emplace_back(written_rows.front().seq, written_rows.back().seq + 1);
    for (size_t i = 0; i < batch.size(); ++i)
      if (!staging[i] && !batch[i].home.empty())
        tainted_.insert(batch[i].home);
    route_later(); // what they had to follow was not written
    write_hold_.clear();
    settled_.store(stage_rows_.empty() ? next_seq_ : stage_rows_.front().seq,
                   std::memory_order_release);
    for (size_t i = 0; i < was_carried_reqs.size(); ++i) {
      was_carried_res[i] = commit_result{};
      was_carried_res[i].err = err;
      if (was_carried_reqs[i].done)
        was_carried_reqs[i].done(was_carried_res[i]);
    }
    for (size_t i = 0; i < written_stage.size(); ++i) {
      stage_results[i] = commit_result{};
      stage_results[i].err = err;
      if (written_stage[i].done)
        written_stage[i].done(stage_results[i]);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (staging[i])
        continue;
      results[i] = commit_result{};
      results[i].err = err;
      if (batch[i].done)
        batch[i].done(results[i]);
    }
    return;
  }
  size_t unwritten = 0;
  for (auto& row : was_carried_rows)
    unwritten += row.cancelled ? 1 : 0;
  for (auto& row : written_rows)
    unwritten += row.cancelled ? 1 : 0;
  if (unwritten > 0)
    unwritten_.fetch_add(unwritten, std::memory_order_relaxed);
  // The requests with rows carried to the next write: this write's part of
  // their results (rows consumed or put now) is counted now, the answer
  // waits for the rest.
  auto carried_now = carry_late(written_stage, stage_results, written_rows, carries);
  // Count and route first, the whole batch at once (an actor gets all of
  // its new rows of this write in one hand-off): a producer told "accepted"
  // then sees them pending. The stage's rows come first (numbered before
  // this batch's own).
  std::vector<commit_result*> written;
  written.reserve(batch.size() + stage_results.size() + was_carried_res.size());
  for (auto& res : was_carried_res)
    written.push_back(&res);
  for (size_t i = 0; i < written_stage.size(); ++i) // in seq order
    written.push_back(carries[i] ? &carried_now[i] : &stage_results[i]);
  for (size_t i = 0; i < batch.size(); ++i)
    if (!refused[i] && !staging[i])
      written.push_back(&results[i]);
  on_delivered_(written);
  route_later();
  write_hold_.clear();
  auto first_open = stage_rows_.empty() ? next_seq_ : stage_rows_.front().seq;
  settled_.store(carried_rows_.empty() ? first_open : carried_rows_.front().seq, // below the stage
                 std::memory_order_release);
  for (size_t i = 0; i < was_carried_reqs.size(); ++i)
    if (was_carried_reqs[i].done)
      was_carried_reqs[i].done(was_carried_res[i]);
  for (size_t i = 0; i < written_stage.size(); ++i)
    if (!carries[i] && written_stage[i].done)
      written_stage[i].done(stage_results[i]);
  for (size_t i = 0; i < batch.size(); ++i)
    if (!staging[i] && batch[i].done)
      batch[i].done(results[i]);
}

} // namespace cairn::internal
