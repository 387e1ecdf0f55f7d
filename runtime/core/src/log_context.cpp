// SPDX-License-Identifier: Apache-2.0
#include "cairn/log_context.hpp"

namespace cairn {

namespace {
thread_local log_context current;
} // namespace

const log_context& current_log_context() {
  return current;
}

log_scope::log_scope(std::string_view trace_id, std::string_view span_id, std::string_view actor)
  : previous_(current) {
  current = log_context{trace_id, span_id, actor};
}

log_scope::~log_scope() {
  current = previous_;
}

std::string_view trace_id_of(std::string_view traceparent) {
  if (traceparent.size() < 36 || traceparent[2] != '-' || traceparent[35] != '-')
    return {};
  return traceparent.substr(3, 32);
}

} // namespace cairn
