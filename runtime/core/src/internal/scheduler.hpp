// SPDX-License-Identifier: Apache-2.0
// The runtime's CAF scheduler: CAF's own coordinator (work sharing or work
// stealing) with a clock that keeps actor ends off the clock thread.
#pragma once

#include <caf/fwd.hpp>

#include "cairn/runtime.hpp"

namespace cairn::internal {

/// Makes `cfg`'s actor system use the runtime's scheduler with `policy`.
///
/// CAF hands its clock thread a cancellation for every actor that ends,
/// whether or not it ever set a timeout, and wakes that thread for it: one
/// wake per activation of a one-shot actor (an MCP call's). Activations
/// time with `delayed_send`, never with receive or request timeouts, so
/// the clock here passes an actor's end on only if the actor set one.
void install_scheduler(caf::actor_system_config& cfg, scheduling policy);

} // namespace cairn::internal
