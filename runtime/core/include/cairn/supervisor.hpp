// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

namespace cairn {

/// Which children a supervisor restarts when one fails.
enum class restart_strategy {
  one_for_one,  ///< only the failed child
  one_for_all,  ///< every child
  rest_for_one, ///< the failed child and every child started after it
};

/// How a supervisor restarts, and when it gives up. Data, not code.
struct supervisor_spec {
  restart_strategy strategy = restart_strategy::one_for_one; ///< which children restart
  uint32_t max_restarts = 3;                    ///< restart intensity: at most this many ...
  std::chrono::milliseconds within{5'000};      ///< ... restarts in this window, else escalate
  std::chrono::milliseconds backoff{10};        ///< delay before the first restart in a window
  double backoff_multiplier = 2.0;              ///< growth per further restart in the window
  std::chrono::milliseconds max_backoff{2'000}; ///< upper bound of the restart delay
  /// Called on the supervisor's thread after each (re)start of a child with
  /// its name and how many times it has been started; for logs and tests.
  std::function<void(const std::string& child, uint32_t starts)> on_start;
};

/// One supervised child: a name and how to start it. `start` must spawn a
/// fresh actor each time it is called.
struct child_spec {
  std::string name; ///< for logs and `supervisor_spec::on_start`
  /// Spawns the child in the given actor system and returns it.
  std::function<caf::actor(caf::actor_system&)> start;
};

/// Spawns a supervisor that starts `children` in order and monitors them. A
/// child that exits with an error (an exception in a handler, `quit(err)`)
/// is restarted after a backoff according to `spec.strategy`; a child that
/// exits normally is not. More than `max_restarts` restarts within `within`
/// stop every child and end the supervisor with `errc::escalated`, which its
/// own parent (a supervisor or a monitor) sees as the exit reason.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::vector<child_spec> children);

} // namespace cairn
