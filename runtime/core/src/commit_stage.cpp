// SPDX-License-Identifier: Apache-2.0
// Staged accepts (commit_coordinator.hpp): which accepts are staged, how a
// stage is numbered and routed before its write, and the answers the
// writer waits for.
#include "internal/commit_coordinator.hpp"

#include <algorithm>

namespace cairn::internal {

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
  rows.reserve(rows.size() + req.enqueue.size());
  stage_rows_.reserve(stage_rows_.size() + req.enqueue.size());
  bool encoded = req.records.size() == req.enqueue.size();
  for (size_t e = 0; e < req.enqueue.size(); ++e) {
    auto& env = req.enqueue[e];
    auto seq = next_seq_++;
    res.ids.push_back(env.id);
    stage_rows_.push_back(
      staged_row{seq, at, req.fresh, false, false, false, env.to,
                 encoded ? std::move(req.records[e]) : encode_new_mailbox_record(env)});
    rows.push_back(routed{seq, std::move(env), req.fresh, true});
  }
  req.enqueue.clear();
  req.records.clear();
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

void commit_coordinator::answer(uint64_t epoch) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (epoch == 0 || epoch != open_epoch_)
      return;
    ++answered_;
    wake = stage_waiting_ && answered_ >= awaited_;
  }
  if (wake)
    cv_.notify_one();
}

} // namespace cairn::internal
