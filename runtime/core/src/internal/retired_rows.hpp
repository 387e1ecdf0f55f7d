// SPDX-License-Identifier: Apache-2.0
// Handled rows freed when their thread has nothing else to run. An
// activation drops the rows of its committed steps at the start of its next
// handler, before it runs the messages that came; freeing them there (a
// dozen strings each, most allocated on another thread) delays those
// steps, which the commit thread is waiting for. A scheduler worker that
// keeps them frees them before it sleeps instead, or once it holds
// `retired_rows_cap` of them. Light on purpose: the scheduler includes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn::internal {

/// The most rows a thread keeps before freeing them at once.
inline constexpr size_t retired_rows_cap = 256;

/// The rows one `free_retired_rows` frees.
inline constexpr size_t retired_rows_per_free = 16;

/// Whether this thread keeps handled rows until it is idle; set by a
/// scheduler worker that calls `free_retired_rows` before it sleeps.
void keep_retired_rows(bool keep) noexcept;

/// Frees some of the rows this thread kept (`retired_rows_per_free`);
/// false if it kept none.
bool free_retired_rows() noexcept;

/// Rows kept for an idle moment since the process started, by every
/// thread, and how many of them were freed since: the difference is what
/// is held now.
struct retired_rows_count {
  uint64_t kept = 0;  ///< rows taken out of a window and kept
  uint64_t freed = 0; ///< kept rows freed since
};

/// The counts so far.
retired_rows_count retired_rows_counted() noexcept;

} // namespace cairn::internal
