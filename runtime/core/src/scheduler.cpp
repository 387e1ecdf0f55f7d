// SPDX-License-Identifier: Apache-2.0
// The runtime's CAF scheduler (internal/scheduler.hpp).
#include "internal/scheduler.hpp"
#include "internal/retired_rows.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>

namespace cairn::internal {

namespace {

/// Forwards everything to the coordinator's clock (whose thread runs the
/// timers), but an actor's end only if the actor set a timeout that the
/// end must cancel.
class quiet_clock : public caf::detail::thread_safe_actor_clock {
public:
  explicit quiet_clock(caf::detail::thread_safe_actor_clock& real) : real_(real) {}

  time_point now() const noexcept override { return real_.now(); }

  duration_type difference(caf::atom_value measurement, long units, time_point t0,
                           time_point t1) const noexcept override {
    return real_.difference(measurement, units, t0, t1);
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    remember(self);
    real_.set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    remember(self);
    real_.set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    remember(self);
    real_.set_multi_timeout(t, self, type, id);
  }

  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    real_.cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    real_.cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (timed_.erase(self->id()) == 0)
        return; // never set one: nothing to cancel
    }
    real_.cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    real_.schedule_message(t, std::move(receiver), std::move(content));
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    real_.schedule_message(t, std::move(target), std::move(sender), std::move(content));
  }

  void cancel_all() override { real_.cancel_all(); }

private:
  void remember(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mtx_};
    timed_.insert(self->id());
  }

  caf::detail::thread_safe_actor_clock& real_;
  std::mutex mtx_;
  std::unordered_set<caf::actor_id> timed_; ///< actors that set a timeout
};

/// Guards a few instructions: a failed try spins briefly, then yields the
/// CPU (its holder may be waiting for one: two cores run more threads).
class tiny_lock {
public:
  void lock() noexcept {
    for (unsigned tries = 0; held_.exchange(true, std::memory_order_acquire); ++tries) {
      while (held_.load(std::memory_order_relaxed)) {
        if (++tries % 64 == 0)
          std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() noexcept {
    held_.store(false, std::memory_order_release);
  }

private:
  std::atomic<bool> held_{false};
};

/// One queue shared by the workers, as CAF's `work_sharing`, without its
/// futex traffic. CAF's locks a mutex per job taken and per job queued,
/// allocates a list node per job, and signals its condition variable while
/// holding the mutex: at batch 64 the scheduler thread spent a third of its
/// time in futex calls, most of them handing that mutex back and forth
/// (`docs/throughput.md`, "The scheduler's queue without futex traffic").
/// Here the queue is guarded by a spin lock held for a push or a pop, and a
/// worker that finds it empty waits on a counter that a push bumps only
/// while a worker sleeps.
class sharing_policy : public caf::policy::unprofiled {
public:
  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {}
    tiny_lock lock;                    ///< guards `jobs`
    std::deque<caf::resumable*> jobs;  ///< ready to run, oldest first
    std::atomic<uint32_t> sleepers{0}; ///< workers asleep, or about to be
    std::atomic<uint32_t> pushes{0};   ///< bumped by a push that may wake one
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {}
  };

  template <class Coordinator>
  void enqueue(Coordinator* self, caf::resumable* job) {
    auto& q = d(self);
    q.lock.lock();
    q.jobs.push_back(job);
    q.lock.unlock();
    // The push before the look at `sleepers`, as a worker counts itself
    // before its last look at the queue: one of the two sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (q.sleepers.load(std::memory_order_relaxed) == 0)
      return;
    q.pushes.fetch_add(1, std::memory_order_seq_cst);
    q.pushes.notify_one();
  }

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    enqueue(self, job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& q = d(self->parent());
    for (;;) {
      if (auto* job = take(q))
        return job;
      // Nothing to run: free the rows handled meanwhile, then look again.
      if (free_retired_rows())
        continue;
      q.sleepers.fetch_add(1, std::memory_order_seq_cst);
      // Counted before the last look at the queue, fenced as a push is
      // (Dekker's pattern: of the two fences, the later one's side sees the
      // other's write).
      std::atomic_thread_fence(std::memory_order_seq_cst);
      auto seen = q.pushes.load(std::memory_order_seq_cst);
      auto* job = take(q);
      if (job == nullptr)
        q.pushes.wait(seen, std::memory_order_seq_cst); // until a push after `seen`
      q.sleepers.fetch_sub(1, std::memory_order_relaxed);
      if (job != nullptr)
        return job;
    }
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker*, UnaryFunction) {}

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    while (auto* job = take(d(self)))
      f(job);
  }

private:
  static caf::resumable* take(coordinator_data& q) {
    q.lock.lock();
    caf::resumable* job = nullptr;
    if (!q.jobs.empty()) {
      job = q.jobs.front();
      q.jobs.pop_front();
    }
    q.lock.unlock();
    return job;
  }
};

} // namespace

} // namespace cairn::internal

/// The sharing policy's worker loop. CAF's (`caf/scheduler/worker.hpp`)
/// names the job's actor to the logger around every resume, through a
/// `dynamic_cast` from the job to `abstract_actor`: a cross-cast that walks
/// the activation's class hierarchy, about 1,400 instructions a resume, and
/// a seventh of the scheduler thread's instructions with 64 bench actors
/// (`valgrind --tool=callgrind`). Debian's CAF is built with its logging
/// compiled out (`CAF_LOG_LEVEL_QUIET`), so nothing ever reads that name. The
/// loop is otherwise the worker's contract with a `resumable`: run the job,
/// then keep, drop or finish it as it says.
template <>
void caf::scheduler::worker<cairn::internal::sharing_policy>::run() {
  CAF_SET_LOGGER_SYS(&system());
  cairn::internal::keep_retired_rows(true); // freed in `dequeue` before it sleeps
  for (;;) {
    resumable* job = policy_.dequeue(this);
    policy_.before_resume(this, job);
    auto result = job->resume(this, max_throughput_);
    policy_.after_resume(this, job);
    switch (result) {
      case resumable::resume_later: // still has work: queued again, still referenced
        policy_.resume_job_later(this, job);
        break;
      case resumable::done:
        policy_.after_completion(this, job);
        intrusive_ptr_release(job);
        break;
      case resumable::awaiting_message: // queued again by its next message
        intrusive_ptr_release(job);
        break;
      case resumable::shutdown_execution_unit:
        policy_.after_completion(this, job);
        policy_.before_shutdown(this);
        cairn::internal::keep_retired_rows(false);
        return;
    }
  }
}

namespace cairn::internal {

namespace {

template <class Policy>
class coordinator : public caf::scheduler::coordinator<Policy> {
public:
  using super = caf::scheduler::coordinator<Policy>;

  explicit coordinator(caf::actor_system& sys) : super(sys), quiet_(super::clock()) {}

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return quiet_; }

private:
  quiet_clock quiet_;
};

} // namespace

void install_scheduler(caf::actor_system_config& cfg, scheduling policy) {
  cfg.module_factories.push_back([policy](caf::actor_system& sys) -> caf::actor_system::module* {
    if (policy == scheduling::stealing)
      return new coordinator<caf::policy::work_stealing>(sys);
    return new coordinator<sharing_policy>(sys);
  });
}

} // namespace cairn::internal
