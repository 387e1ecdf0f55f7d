// SPDX-License-Identifier: Apache-2.0
// Which CPU takes the completion interrupts of the disk under a directory,
// read from sysfs and procfs. With `durability fsync` the commit thread
// sleeps in every commit's fsync until that interrupt wakes it: on the CPU
// that takes it, the wake-up is local instead of a cross-CPU one (on a VM,
// an inter-processor interrupt through the hypervisor). docs/throughput.md,
// "The commit thread on the disk's interrupt CPU".
#pragma once

#include <string>
#include <vector>

namespace cairn::internal {

struct disk_interrupt_cpu {
  int cpu = -1;     ///< the one CPU the disk's completions come to, or -1
  std::string disk; ///< the disk's name in /sys/block ("vda"), once found
  int irq = -1;     ///< the interrupt its completions come by, once found
  std::string why;  ///< with cpu -1: why no single CPU was found
};

/// The CPU for the disk holding `path` (its file system's block device,
/// a partition's disk), reading `sys` and `proc` as /sys and /proc (tests
/// give trees of their own). Only a disk with one hardware queue has such a
/// CPU: with a queue per CPU, completions come back where they were asked.
disk_interrupt_cpu completion_cpu(const std::string& path, const std::string& sys = "/sys",
                                  const std::string& proc = "/proc");

/// The same for the block device `major:minor`.
disk_interrupt_cpu completion_cpu_of(unsigned major, unsigned minor, const std::string& sys,
                                     const std::string& proc);

/// The CPUs of a kernel CPU list ("0-3,6"); empty if it is not one.
std::vector<int> parse_cpu_list(const std::string& text);

} // namespace cairn::internal
