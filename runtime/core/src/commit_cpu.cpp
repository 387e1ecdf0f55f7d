// SPDX-License-Identifier: Apache-2.0
// Where the commit thread runs (runtime_options::commit_cpu): a CPU named by
// the user, or with `auto` the CPU that takes the data disk's completion
// interrupts (disk_interrupts.hpp), followed if the interrupt moves.
#include <sched.h>

#include "internal/disk_interrupts.hpp"
#include "internal/runtime_impl.hpp"

namespace cairn {

namespace {

/// The CPUs of `set` as a kernel CPU list ("0-1").
std::string cpu_list(const cpu_set_t& set) {
  std::string out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set) || (c > 0 && CPU_ISSET(c - 1, &set)))
      continue;
    int last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
      ++last;
    out +=
      (out.empty() ? "" : ",") + std::to_string(c) + (last > c ? "-" + std::to_string(last) : "");
  }
  return out;
}

/// What `commit_cpu_auto` finds now: the CPU (-1: none) and what to log.
std::pair<int, std::string> interrupt_cpu(const runtime_options& o) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
    return {-1, "the CPUs this process may use are unknown"};
  auto found = internal::completion_cpu(o.data_dir, o.sys_root, o.proc_root);
  if (found.cpu < 0)
    return {-1, found.why};
  if (CPU_COUNT(&allowed) < 2 || found.cpu >= CPU_SETSIZE || !CPU_ISSET(found.cpu, &allowed))
    return {-1, "CPU " + std::to_string(found.cpu) + " takes the interrupts of " + found.disk
                  + ", and this process runs on CPUs " + cpu_list(allowed)};
  return {found.cpu, "the completion interrupts of " + found.disk + " (IRQ "
                       + std::to_string(found.irq) + ")"};
}

} // namespace

caf::error runtime::impl::check_commit_cpu(int cpu) {
  if (cpu < commit_cpu_off)
    return make_error(errc::invalid_argument,
                      "commit_cpu " + std::to_string(cpu) + ": expected a CPU number, auto or off");
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (cpu < 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0)
    return {};
  if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
    return make_error(errc::invalid_argument, "commit_cpu " + std::to_string(cpu)
                                                + ": this process may run on CPUs "
                                                + cpu_list(allowed) + " only");
  return {};
}

void runtime::impl::place_commit_thread(bool starting) {
  if (opts.commit_cpu >= 0) {
    if (starting && coord->bind(opts.commit_cpu))
      spdlog::info("commit thread on CPU {} (commit_cpu)", opts.commit_cpu);
    return;
  }
  if (opts.commit_cpu != commit_cpu_auto || opts.mode != durability::fsync)
    return;
  auto now = std::chrono::steady_clock::now();
  if (!starting && now - last_cpu_check < opts.commit_cpu_recheck)
    return;
  last_cpu_check = now;
  auto [cpu, what] = interrupt_cpu(opts);
  if (starting && cpu < 0) {
    spdlog::info("commit thread on any CPU: {}", what);
    return;
  }
  if (cpu == coord->cpu())
    return;
  if (!coord->bind(cpu)) {
    spdlog::warn("commit thread: binding it to CPU {} was refused; it stays where it was", cpu);
    return;
  }
  if (starting)
    spdlog::info("commit thread on CPU {}: it takes {}, so each fsync wakes the thread on its own "
                 "CPU",
                 cpu, what);
  else if (cpu >= 0)
    spdlog::info("commit thread moved to CPU {}: it takes {} now", cpu, what);
  else
    spdlog::info("commit thread on any CPU now: {}", what);
}

} // namespace cairn
