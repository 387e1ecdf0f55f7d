// SPDX-License-Identifier: Apache-2.0
// The runtime's CAF scheduler (internal/scheduler.hpp).
#include "internal/scheduler.hpp"

#include <mutex>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
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
    return new coordinator<caf::policy::work_sharing>(sys);
  });
}

} // namespace cairn::internal
