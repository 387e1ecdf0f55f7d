// SPDX-License-Identifier: Apache-2.0
// Staged accepts (commit_coordinator.hpp): which accepts are staged (at once
// when they come during a write), how a stage is numbered and routed before
// its write, the answers the writer waits for, and the rows it carries to
// the next write.
#include "internal/commit_coordinator.hpp"

#include <algorithm>

#include "cairn/codec.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

namespace cairn::internal {

namespace {

/// Room for `more` elements, growing as push_back would: a stage takes one
/// accept at a time, and reserving exactly what each needs moved every row
/// of the stage again on each (its vector starts empty for every write).
template <class T>
void reserve_more(std::vector<T>& v, size_t more) {
  if (v.capacity() - v.size() < more)
    v.reserve(std::max(v.size() + more, 2 * v.capacity()));
}

} // namespace

// Queues `r`, or, while a write is on its way and no accept is queued
// before it, adds a plain accept to the stage at once (`stage_direct`).
bool commit_coordinator::submit(commit_request& r, bool force) {
  bool wake = false;
  bool joins = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_ || (!force && queue_.size() >= settings_.max_queued))
      return false;
    if (r.epoch != 0 && r.epoch == open_epoch_)
      ++answered_;
    for (auto seq : r.consumes)
      if (seq >= joined_lo_ && seq < joined_hi_ && joined_waiting_ > 0)
        --joined_waiting_;
    joins = writing_ && queued_accepts_ == 0 && stageable(r);
    if (joins) {
      ++joining_;
    } else {
      queued_accepts_ += r.home.empty() && !r.enqueue.empty() ? 1 : 0;
      queue_.push_back(std::move(r));
      // A busy writer takes the whole queue when it comes back: waking it
      // only costs a futex call per request.
      wake = writer_idle_
             || (stage_waiting_ && (answered_ >= awaited_ || queue_.size() >= settings_.max_batch))
             || (joined_waited_ && joined_waiting_ == 0);
    }
  }
  if (joins)
    stage_direct(r);
  else if (wake)
    cv_.notify_one();
  return true;
}

bool commit_coordinator::stageable(const commit_request& r) const {
  if (r.enqueue.empty() || !r.ops.empty() || !r.timers.empty() || !r.publish.empty()
      || !r.dedupe_each.empty() || !r.expire_dedupe.empty() || !r.claim_dead.empty()
      || !r.home.empty() || r.local_admitted || r.fires_timer || !r.to_peer.empty()
      || !r.import_mailbox.empty() || !r.consumes.empty() || !r.after_rows.empty())
    return false;
  // A key is checked (and claimed) when the batch is built: not staged.
  return !r.dedupe || std::none_of(r.enqueue.begin(), r.enqueue.end(), [](const envelope& e) {
    return !e.idempotency_key.empty();
  });
}

bool commit_coordinator::in_failed_stage(uint64_t seq) const {
  auto it = std::upper_bound(failed_stages_.begin(), failed_stages_.end(), seq,
                             [](uint64_t s, const auto& range) { return s < range.first; });
  return it != failed_stages_.begin() && seq < std::prev(it)->second;
}

// Numbers the rows of the accepts `staging` marks, after every row written
// so far, and routes them to their activations before their write.
void commit_coordinator::stage(std::vector<commit_request>& batch, std::vector<bool>& staging,
                               std::unordered_set<std::string>& hold) {
  std::vector<routed> rows;
  for (size_t i = 0; i < batch.size(); ++i)
    if (staging[i])
      add_to_stage(batch[i], rows);
  // Receivers with earlier messages not routed yet (rows of the stage being
  // written that were not routed, and accepts written by this write): the
  // stage's rows for them are routed after this write's, in `route_later`.
  hold.merge(unreached_);
  unreached_.clear();
  write_hold_ = std::move(hold);
  route_stage(rows, write_hold_);
}

void commit_coordinator::add_to_stage(commit_request& req, std::vector<routed>& rows) {
  auto at = static_cast<uint32_t>(stage_reqs_.size());
  auto& res = stage_res_.emplace_back();
  res.ids.reserve(req.enqueue.size());
  reserve_more(rows, req.enqueue.size());
  reserve_more(stage_rows_, req.enqueue.size());
  if (req.records.size() != req.enqueue.size())
    req.records = record_block{req.enqueue};
  bool hinted = req.hints.size() == req.enqueue.size();
  for (size_t e = 0; e < req.enqueue.size(); ++e) {
    auto& env = req.enqueue[e];
    auto seq = next_seq_++;
    res.ids.push_back(env.id);
    auto& row = stage_rows_.emplace_back();
    row.seq = seq;
    row.req = at;
    row.fresh = req.fresh;
    row.record = req.records.at(e); // its bytes stay where they are as `req` moves
    auto to = mailbox_record_to(row.record);
    row.to_at = static_cast<uint32_t>(to.data() - row.record.data());
    row.to_size = static_cast<uint32_t>(to.size());
    // Made in place: an envelope moves as a dozen strings.
    auto& r = rows.emplace_back();
    r.seq = seq;
    r.env = std::move(env);
    r.fresh = req.fresh;
    r.provisional = true;
    if (hinted)
      r.hint = req.hints[e];
  }
  req.enqueue.clear();
  req.hints.clear();
  stage_reqs_.push_back(std::move(req));
}

void commit_coordinator::route_stage(std::vector<routed>& rows,
                                     const std::unordered_set<std::string>& hold) {
  if (rows.empty())
    return;
  bool opens = stage_rows_.size() == rows.size(); // no row of this stage routed before
  if (opens) {
    uint64_t epoch = ++epochs_;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      open_epoch_ = epoch;
      answered_ = 0;
      awaited_ = SIZE_MAX; // answers counted while the rows are routed
      stepless_.clear();
    }
    later_.clear();
    later_epoch_ = epoch;
  }
  if (!hold.empty()) {
    auto now = std::stable_partition(rows.begin(), rows.end(),
                                     [&](const routed& r) { return hold.count(r.env.to) == 0; });
    later_.insert(later_.end(), std::make_move_iterator(now), std::make_move_iterator(rows.end()));
    rows.erase(now, rows.end());
  }
  // Rows joining an open stage are counted by row, not by activation: the
  // writer waits for their steps a while, no activation owes it an answer.
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (opens) {
      joined_lo_ = next_seq_;
      joined_waiting_ = 0;
    } else {
      joined_waiting_ += rows.size(); // before they are routed: a step may come at once
    }
    joined_hi_ = next_seq_;
  }
  // A receiver this stage did not reach before gets its later rows written
  // too (routed after that write, in order), not ahead of them.
  auto sent = rows.empty()
                ? 0
                : on_staged_(rows, opens ? later_epoch_ : later_epoch_ | joined_epoch_bit,
                             unreached_, unreached_);
  std::lock_guard<std::mutex> guard{mtx_};
  if (opens)
    awaited_ = sent;
  stage_size_ = stage_rows_.size();
  stage_deadline_ = std::chrono::steady_clock::now() + settings_.stage_wait;
}

caf::error commit_coordinator::write_staging(const write_set& ws, bool may_stage,
                                             std::unique_lock<std::mutex>& stage_lock) {
  auto t0 = std::chrono::steady_clock::now();
  if (may_stage) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      writing_ = true;
    }
    stage_lock.unlock();
  }
  auto err = store_.write(ws, settings_.sync);
  write_took_ = std::chrono::steady_clock::now() - t0;
  latencies_.observe(std::chrono::duration<double>(write_took_).count());
  if (may_stage) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      writing_ = false;
    }
    stage_lock.lock(); // after the accepts joining now
  }
  return err;
}

void commit_coordinator::stage_direct(commit_request& r) {
  {
    std::lock_guard<std::mutex> stage_guard{stage_mtx_};
    std::vector<routed> rows;
    add_to_stage(r, rows);
    route_stage(rows, write_hold_);
  }
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    --joining_;
    wake = writer_idle_;
  }
  if (wake)
    cv_.notify_one();
}

commit_coordinator::staged_row* commit_coordinator::staged_at(uint64_t seq) {
  uint64_t lo = stage_rows_.empty() ? 0 : stage_rows_.front().seq;
  if (!stage_rows_.empty() && seq >= lo && seq - lo < stage_rows_.size())
    return &stage_rows_[seq - lo];
  auto it = std::lower_bound(carried_rows_.begin(), carried_rows_.end(), seq,
                             [](const staged_row& r, uint64_t s) { return r.seq < s; });
  return it != carried_rows_.end() && it->seq == seq ? &*it : nullptr;
}

void commit_coordinator::wait_for_steps(std::unique_lock<std::mutex>& lock) {
  if (stage_size_ == 0 || stopping_)
    return;
  if (answered_ < awaited_ && queue_.size() < settings_.max_batch) {
    // The stage's steps are on their way: they are written with it.
    stage_waiting_ = true;
    cv_.wait_until(lock, stage_deadline_, [this] {
      return stopping_ || answered_ >= awaited_ || queue_.size() >= settings_.max_batch;
    });
    stage_waiting_ = false;
  }
  if (joined_waiting_ > 0 && !stopping_ && queue_.size() < settings_.max_batch) {
    // Rows that joined during the write: their steps ran beside it, and get
    // at most as long again (the others wait for the next write).
    joined_waited_ = true;
    cv_.wait_until(
      lock, std::min(stage_deadline_, std::chrono::steady_clock::now() + write_took_),
      [this] { return stopping_ || joined_waiting_ == 0 || queue_.size() >= settings_.max_batch; });
    joined_waited_ = false;
  }
}

// The rows carried from the write before (written now, with their steps or
// as mailbox rows), then the stage's: a row whose step is not here is
// carried to the next write once, unless this write puts a row for its
// receiver (it would overtake it), a request here depends on it, or it
// never reached its activation. Returns which stage requests have rows carried.
std::vector<bool> commit_coordinator::put_stage_rows(write_set& ws, std::string& spans,
                                                     const std::unordered_set<std::string>& hold,
                                                     bool may_stage) {
  auto put_row = [&](staged_row& row, commit_result& res) {
    if (row.cancelled) {
      ++res.consumed;
      return;
    }
    // Routed again once written, as every row is: the activation drops it
    // if it holds it already.
    auto rec = decode<mailbox_record>(row.record);
    if (rec)
      res.delivered.push_back(routed{row.seq, std::move(rec->env), row.fresh});
    auto key = keys::actor_seq(row.to(), row.seq);
    ws.put(column::mailbox, std::move(key), std::string{row.record});
  };
  for (auto& row : carried_rows_)
    put_row(row, carried_res_[row.req]);
  std::vector<bool> carries(stage_reqs_.size(), false);
  auto carry = [&](const staged_row& row) {
    if (!may_stage || row.cancelled || row.pinned)
      return false;
    std::string to{row.to()};
    return hold.count(to) == 0 && unreached_.count(to) == 0 && no_step_coming_.count(to) == 0;
  };
  for (auto& row : stage_rows_) {
    if (carry(row)) {
      row.carried = true;
      carries[row.req] = true;
      continue;
    }
    put_row(row, stage_res_[row.req]);
  }
  for (auto& req : stage_reqs_) {
    if (req.spans.empty())
      continue;
    if (spans.empty())
      spans.push_back(static_cast<char>(internal::span_group_format));
    spans.append(req.spans);
    req.spans.clear(); // a request carried to the next write has its spans written now
    req.spans_chain = {};
  }
  return carries;
}

std::vector<commit_result> commit_coordinator::carry_late(std::vector<commit_request>& reqs,
                                                          std::vector<commit_result>& results,
                                                          std::vector<staged_row>& rows,
                                                          const std::vector<bool>& carries) {
  std::vector<commit_result> now(reqs.size());
  std::vector<uint32_t> index(reqs.size(), UINT32_MAX);
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!carries[i])
      continue;
    now[i].consumed = std::exchange(results[i].consumed, 0);
    now[i].delivered = std::move(results[i].delivered);
    results[i].delivered.clear();
    index[i] = static_cast<uint32_t>(carried_reqs_.size());
    carried_reqs_.push_back(std::move(reqs[i]));
    carried_res_.push_back(std::move(results[i]));
  }
  for (auto& row : rows)
    if (row.carried) {
      row.req = index[row.req];
      row.carried = false;
      carried_rows_.push_back(std::move(row));
    }
  if (!carried_rows_.empty()) {
    carried_.fetch_add(carried_rows_.size(), std::memory_order_relaxed);
    carried_until_ = std::chrono::steady_clock::now() + settings_.stage_wait;
  }
  return now;
}

void commit_coordinator::route_later() {
  if (later_.empty())
    return;
  std::unordered_set<std::string> none;
  auto sent = on_staged_(later_, later_epoch_, none, unreached_);
  later_.clear();
  std::lock_guard<std::mutex> guard{mtx_};
  if (open_epoch_ == later_epoch_)
    awaited_ += sent;
}

void commit_coordinator::answer(uint64_t epoch, const std::string& actor) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (epoch == 0 || epoch != open_epoch_)
      return;
    ++answered_;
    stepless_.insert(actor);
    wake = stage_waiting_ && answered_ >= awaited_;
  }
  if (wake)
    cv_.notify_one();
}

} // namespace cairn::internal
