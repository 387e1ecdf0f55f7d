// SPDX-License-Identifier: Apache-2.0
// A streamed response body (server-sent events): the handler's side. The
// connection's side, which sends what is queued, is in http_server.cpp.
#include <atomic>

#include <spdlog/spdlog.h>

#include "cairn/http.hpp"
#include "internal/http_stream_state.hpp"

namespace cairn {

namespace {

std::atomic<uint64_t> stream_overflows{0};

} // namespace

http_stream::http_stream(size_t max_queued_bytes)
  : state_(std::make_shared<state>(max_queued_bytes)) {}

http_stream::~http_stream() = default;

bool http_stream::write(std::string bytes) {
  std::function<void()> wake;
  std::function<void()> abort;
  size_t behind = 0;
  bool overflow = false;
  {
    std::lock_guard lock{state_->mu};
    if (state_->ended || state_->closed)
      return false;
    // Judged by the backlog before this write, so one event larger than the
    // bound (a big tool result) still reaches a client that keeps up.
    if (state_->queued < state_->max_queued) {
      state_->queued += bytes.size();
      state_->queue.push_back(std::move(bytes));
      wake = state_->wake;
    } else {
      // The client is the bound behind already: end the stream rather than
      // buffer without limit.
      behind = state_->queued;
      state_->overflowed = true;
      state_->closed = true;
      state_->queue.clear();
      state_->queued = 0;
      wake = state_->wake;
      abort = state_->abort;
      overflow = true;
    }
  }
  if (overflow) {
    stream_overflows.fetch_add(1);
    spdlog::warn("closing an event stream: its client fell {} bytes behind (the bound is {})",
                 behind + bytes.size(), state_->max_queued);
    if (abort)
      abort(); // a write blocked on the client ends now, not at its timeout
    else if (wake)
      wake();
    else
      state_->finish(); // no connection serves it yet: end it here
    return false;
  }
  if (wake)
    wake();
  return true;
}

size_t http_stream::queued_bytes() const {
  std::lock_guard lock{state_->mu};
  return state_->queued;
}

uint64_t http_stream::overflows() {
  return stream_overflows.load();
}

void http_stream::close() {
  std::function<void()> wake;
  {
    std::lock_guard lock{state_->mu};
    if (state_->closed)
      return;
    state_->closed = true;
    wake = state_->wake;
  }
  if (wake)
    wake();
}

bool http_stream::open() const {
  std::lock_guard lock{state_->mu};
  return !state_->closed && !state_->ended;
}

void http_stream::on_end(std::function<void()> fn) {
  {
    std::lock_guard lock{state_->mu};
    if (!state_->ended) {
      state_->on_end.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

} // namespace cairn
