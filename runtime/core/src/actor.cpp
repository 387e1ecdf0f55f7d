// SPDX-License-Identifier: Apache-2.0
#include "cairn/actor.hpp"

namespace cairn {

durable_actor::~durable_actor() = default;

void context::send_raw(std::string to, std::string type, std::string payload, payload_format fmt,
                       std::chrono::milliseconds delay, std::string idempotency_key) {
  step_effects::outgoing out;
  auto& env = out.env;
  env.id = next_envelope_id();
  env.from = msg_.to;
  env.to = std::move(to);
  env.type = std::move(type);
  env.format = static_cast<uint8_t>(fmt);
  env.payload = std::move(payload);
  trace_context tc;
  if (out_.descend_from.empty() || !parse_traceparent(out_.descend_from, tc)) {
    tc = child_of(msg_.traceparent);
    if (!out_.span_id.empty())
      tc.span_id = out_.span_id;
  }
  env.traceparent = format_traceparent(tc);
  // Derived from the handled envelope, so a re-run of this step (after a
  // crash or a retry) produces the same keys for the same sends.
  env.idempotency_key = msg_.id + ":" + std::to_string(out_.sends.size());
  if (!idempotency_key.empty() && delay.count() <= 0) {
    env.idempotency_key = std::move(idempotency_key);
    out.keyed = true;
  }
  env.created_ms = now_ms();
  if (delay.count() > 0)
    out.due_ms = env.created_ms + delay.count();
  out_.sends.push_back(std::move(out));
}

void context::emit_raw(std::string type, std::string payload) {
  if (auto err = self_.apply(type, payload); err && !out_.apply_failure)
    out_.apply_failure = std::move(err);
  out_.events.push_back(step_effects::event{std::move(type), std::move(payload)});
}

} // namespace cairn
