// SPDX-License-Identifier: Apache-2.0
// A successful step's span, encoded straight from the step's own values
// (the common case of `add_done_step`, step.cpp).
#include "internal/runtime_impl.hpp"
#include "internal/span_codec.hpp"

namespace cairn {

void runtime::impl::put_step_span(commit_request& req, const activation_state& st,
                                  const mailbox_record& row, std::string_view trace_id,
                                  std::string_view parent_span, int64_t start,
                                  const step_effects& fx, uint64_t first_event, uint32_t events,
                                  uint64_t span_value) const {
  const auto& env = row.env;
  std::vector<internal::sent_view> messages;
  messages.reserve(fx.sends.size());
  for (const auto& out : fx.sends)
    messages.push_back(internal::sent_view{out.env.id, out.env.to, out.env.type});
  internal::step_span_view v;
  v.trace_id = trace_id;
  v.parent_span_id = parent_span;
  v.actor = st.id;
  v.type = env.type;
  v.envelope_id = env.id;
  v.start_us = fx.start_us > 0 ? fx.start_us : start * 1000;
  v.end_us = fx.end_us > 0 ? fx.end_us : now_us();
  v.attempt = env.attempt;
  v.first_event = first_event;
  v.events = events;
  v.sent = &messages;
  std::string retry_of;
  if (env.attempt > 0) { // a retry: it follows the attempt before it
    retry_of = step_span_id(env.id, env.attempt - 1);
    v.retry_of = retry_of;
  }
  // Accepted by an earlier run of this node: it resumes after a restart.
  v.resumed = env.created_ms > 0 && env.created_ms < started_ms;
  if (v.resumed)
    v.resumed_from = parent_span;
  v.span_id = fx.span_id;
  v.span_value = span_value;
  // What the accept knew: the id's halves, and whether it derived the trace.
  if (row.hint.id_hash != 0) {
    v.id_halves_known = true;
    v.id_clock = row.hint.id_clock;
    v.id_tag = row.hint.id_tag;
    v.trace_derived = row.hint.derived_trace && row.env.traceparent.size() == 55;
  }
  auto& spans = req.spans;
  spans.reserve(spans.size() + 96 + st.id.size() + env.type.size() + messages.size() * 48);
  internal::append_step_span_member(spans, v, req.spans_chain);
}

} // namespace cairn
