// SPDX-License-Identifier: Apache-2.0
#include "cairn/supervisor.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

#include <caf/all.hpp>

#include "cairn/error.hpp"

namespace cairn {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct supervisor_state {
  supervisor_spec spec;
  std::vector<child_spec> specs;
  std::vector<caf::actor> running; // by index; invalid while stopped
  std::vector<uint32_t> starts;
  std::deque<caf::actor_clock::time_point> restarts; // within the intensity window
  static inline const char* name = "cairn.supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

bool is_failure(const caf::error& reason) {
  return reason && reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown;
}

void start_child(supervisor_actor* self, size_t i) {
  auto& st = self->state;
  auto child = st.specs[i].start(self->system());
  self->monitor(child);
  st.running[i] = child;
  ++st.starts[i];
  if (st.spec.on_start)
    st.spec.on_start(st.specs[i].name, st.starts[i]);
}

void stop_child(supervisor_actor* self, size_t i) {
  auto& st = self->state;
  if (!st.running[i])
    return;
  self->demonitor(st.running[i]);
  self->send_exit(st.running[i], caf::exit_reason::user_shutdown);
  st.running[i] = caf::actor{};
}

caf::behavior supervisor_fn(supervisor_actor* self, supervisor_spec spec,
                            std::vector<child_spec> children) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.specs = std::move(children);
  st.running.resize(st.specs.size());
  st.starts.resize(st.specs.size(), 0);
  for (size_t i = 0; i < st.specs.size(); ++i)
    start_child(self, i);
  // Asked to stop (by a parent or at shutdown): children stop with it.
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (size_t i = 0; i < self->state.running.size(); ++i)
      stop_child(self, i);
    self->quit(em.reason);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    auto it = std::find_if(s.running.begin(), s.running.end(),
                           [&](const caf::actor& a) { return a && a.address() == dm.source; });
    if (it == s.running.end())
      return;
    auto failed = static_cast<size_t>(it - s.running.begin());
    s.running[failed] = caf::actor{};
    if (!is_failure(dm.reason))
      return; // a child that finished is not restarted
    // Restart intensity: too many restarts in the window -> escalate.
    auto now = self->clock().now();
    while (!s.restarts.empty() && now - s.restarts.front() > s.spec.within)
      s.restarts.pop_front();
    if (s.restarts.size() >= s.spec.max_restarts) {
      for (size_t i = 0; i < s.running.size(); ++i)
        stop_child(self, i);
      self->quit(make_error(errc::escalated, "child '" + s.specs[failed].name + "' failed "
                                               + std::to_string(s.restarts.size() + 1)
                                               + " times within the restart window"));
      return;
    }
    s.restarts.push_back(now);
    // Which children go down with it.
    std::vector<size_t> restart;
    switch (s.spec.strategy) {
      case restart_strategy::one_for_one: restart.push_back(failed); break;
      case restart_strategy::one_for_all:
        for (size_t i = 0; i < s.running.size(); ++i)
          restart.push_back(i);
        break;
      case restart_strategy::rest_for_one:
        for (size_t i = failed; i < s.running.size(); ++i)
          restart.push_back(i);
        break;
    }
    for (auto i : restart)
      if (i != failed)
        stop_child(self, i);
    auto factor = std::pow(s.spec.backoff_multiplier, static_cast<double>(s.restarts.size() - 1));
    auto delay =
      std::min<int64_t>(static_cast<int64_t>(static_cast<double>(s.spec.backoff.count()) * factor),
                        s.spec.max_backoff.count());
    std::vector<uint64_t> which(restart.begin(), restart.end());
    self->delayed_send(self, std::chrono::milliseconds{delay}, restart_atom::value, which);
  });
  return {
    [self](restart_atom, const std::vector<uint64_t>& which) {
      for (auto i : which)
        if (!self->state.running[i])
          start_child(self, i);
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::vector<child_spec> children) {
  return sys.spawn(supervisor_fn, std::move(spec), std::move(children));
}

} // namespace cairn
