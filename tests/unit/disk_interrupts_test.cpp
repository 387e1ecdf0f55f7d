// SPDX-License-Identifier: Apache-2.0
// Which CPU takes a disk's completion interrupts (internal/disk_interrupts.hpp),
// read from trees laid out as /sys and /proc are on a virtio VM.
#include <filesystem>
#include <fstream>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cairn/runtime.hpp"
#include "internal/disk_interrupts.hpp"
#include "temp_dir.hpp"
#include "thread_cpus.hpp"
#include "wait.hpp"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream{file} << text;
}

/// A virtio disk `vda` (254:0) with partition `vda1` (254:1), one hardware
/// queue, its PCI function's interrupts 35 (configuration) and 36 (requests),
/// 36 delivered to CPU 1; the links relative, as sysfs has them.
struct fake_machine {
  test::temp_dir dir;
  fs::path sys = dir.sub("sys"), proc = dir.sub("proc");
  fs::path pci = sys / "devices/pci0000:00/0000:00:02.0";
  fs::path disk = pci / "virtio1/block/vda";

  explicit fake_machine(std::string whole = "254:0", std::string part = "254:1") {
    fs::create_directories(disk / "mq/0");
    fs::create_directories(disk / "vda1");
    write(disk / "vda1/partition", "1\n");
    fs::create_directory_symlink("../../../virtio1", disk / "device");
    fs::create_directories(pci / "msi_irqs");
    write(pci / "msi_irqs/35", "msix\n");
    write(pci / "msi_irqs/36", "msix\n");
    fs::create_directories(sys / "dev/block");
    fs::create_directory_symlink("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
                                 sys / "dev/block" / whole);
    fs::create_directory_symlink("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda/vda1",
                                 sys / "dev/block" / part);
    interrupts(0, 6249685);
    write(proc / "irq/36/effective_affinity_list", "1\n");
    write(proc / "irq/36/smp_affinity_list", "0-1\n");
  }

  void interrupts(unsigned long long cpu0, unsigned long long cpu1) {
    write(proc / "interrupts",
          "           CPU0       CPU1\n"
          " 28:          0          0   PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n"
          " 35:          0          1   PCI-MSIX-0000:00:02.0   0-edge      virtio1-config\n"
          " 36:   "
            + std::to_string(cpu0) + "   " + std::to_string(cpu1)
            + "   PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n"
              "NMI:          0          0   Non-maskable interrupts\n");
  }

  internal::disk_interrupt_cpu find(unsigned minor = 0) {
    return internal::completion_cpu_of(254, minor, sys.string(), proc.string());
  }
};

} // namespace

TEST_CASE("a disk with one hardware queue: the CPU its request interrupt goes to",
          "[disk_interrupts]") {
  fake_machine m;
  auto found = m.find();
  INFO(found.why);
  CHECK(found.cpu == 1);
  CHECK(found.disk == "vda");
  CHECK(found.irq == 36); // not 35, the configuration interrupt
  CHECK(found.why.empty());
}

TEST_CASE("a partition leads to its disk", "[disk_interrupts]") {
  fake_machine m;
  auto found = m.find(1);
  CHECK(found.cpu == 1);
  CHECK(found.disk == "vda");
}

TEST_CASE("no CPU for a disk with a queue per CPU, and why", "[disk_interrupts]") {
  fake_machine m;
  fs::create_directories(m.disk / "mq/1");
  auto found = m.find();
  CHECK(found.cpu == -1);
  CHECK(found.why == "vda has 2 hardware queues: completions come back on the CPU that asked");
}

TEST_CASE("no CPU when the interrupt goes to several CPUs, and which", "[disk_interrupts]") {
  fake_machine m;
  write(m.proc / "irq/36/effective_affinity_list", "0-1\n");
  auto found = m.find();
  CHECK(found.cpu == -1);
  CHECK(found.irq == 36);
  CHECK(found.why == "IRQ 36 of vda goes to CPUs 0-1");
}

TEST_CASE("without an effective affinity the configured one counts", "[disk_interrupts]") {
  fake_machine m;
  fs::remove(m.proc / "irq/36/effective_affinity_list");
  write(m.proc / "irq/36/smp_affinity_list", "0\n");
  CHECK(m.find().cpu == 0);
}

TEST_CASE("the interrupt that fired most is the request one", "[disk_interrupts]") {
  fake_machine m;
  m.interrupts(0, 0); // 35 fired once, 36 never
  write(m.proc / "irq/35/effective_affinity_list", "0\n");
  auto found = m.find();
  CHECK(found.irq == 35);
  CHECK(found.cpu == 0);
  write(m.proc / "interrupts", "           CPU0       CPU1\n 36:   0   0   virtio1-req.0\n");
  found = m.find();
  CHECK(found.cpu == -1);
  CHECK(found.why == "no interrupt of vda has fired yet");
}

TEST_CASE("a device with a legacy interrupt line", "[disk_interrupts]") {
  fake_machine m;
  fs::remove_all(m.pci / "msi_irqs");
  write(m.pci / "irq", "11\n");
  write(m.proc / "interrupts", "           CPU0       CPU1\n 11:   52   0   IO-APIC  virtio1\n");
  write(m.proc / "irq/11/effective_affinity_list", "0\n");
  auto found = m.find();
  CHECK(found.irq == 11);
  CHECK(found.cpu == 0);
}

TEST_CASE("an unknown device or one without queues gives no CPU, and why", "[disk_interrupts]") {
  fake_machine m;
  auto none = internal::completion_cpu_of(8, 0, m.sys.string(), m.proc.string());
  CHECK(none.cpu == -1);
  CHECK(none.why == "no block device 8:0 in " + m.sys.string() + "/dev/block");
  fs::remove_all(m.disk / "mq");
  auto found = m.find();
  CHECK(found.cpu == -1);
  CHECK(found.why == "vda shows no hardware queues");
}

TEST_CASE("kernel CPU lists", "[disk_interrupts]") {
  CHECK(internal::parse_cpu_list("1\n") == std::vector<int>{1});
  CHECK(internal::parse_cpu_list("0-3,6") == std::vector<int>{0, 1, 2, 3, 6});
  CHECK(internal::parse_cpu_list("").empty());
  CHECK(internal::parse_cpu_list("a").empty());
  CHECK(internal::parse_cpu_list("3-1").empty());
  CHECK(internal::parse_cpu_list("1,") == std::vector<int>{1}); // a trailing comma ends the list
}

TEST_CASE("the commit thread follows the disk's interrupt when it moves, and lets go when it goes "
          "to several CPUs",
          "[disk_interrupts][commit_cpu]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set))
      cpus.push_back(c);
  REQUIRE(cpus.size() >= 2); // the suite runs on two cores or more
  auto a = cpus[0], b = cpus[1];

  test::temp_dir data;
  struct stat st {};
  REQUIRE(::stat(data.path().c_str(), &st) == 0);
  // The data directory's own device, laid out as a one-queue disk whose
  // request interrupt goes to CPU a.
  auto id = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  fake_machine m{id, "0:0"};
  write(m.proc / "irq/36/effective_affinity_list", std::to_string(a) + "\n");

  runtime_options o;
  o.data_dir = data.sub("db");
  o.mode = durability::fsync;
  o.sys_root = m.sys.string();
  o.proc_root = m.proc.string();
  o.commit_cpu_recheck = std::chrono::milliseconds{20};
  auto rt = runtime::open(o);
  REQUIRE(rt);
  REQUIRE_FALSE((*rt)->start());
  CHECK((*rt)->stats().commit_cpu == a);
  CHECK(test::cpus_allowed(getpid(), "cairn.commit") == std::to_string(a));

  write(m.proc / "irq/36/effective_affinity_list", std::to_string(b) + "\n");
  CHECK(test::eventually([&] { return (*rt)->stats().commit_cpu == b; }));
  CHECK(test::cpus_allowed(getpid(), "cairn.commit") == std::to_string(b));

  write(m.proc / "irq/36/effective_affinity_list",
        std::to_string(a) + "," + std::to_string(b) + "\n");
  CHECK(test::eventually([&] { return (*rt)->stats().commit_cpu == -1; }));
  CHECK(test::cpus_allowed(getpid(), "cairn.commit") == test::cpus_allowed(getpid()));
  (*rt)->stop();
}
