// SPDX-License-Identifier: Apache-2.0
#include "internal/disk_interrupts.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace cairn::internal {

namespace fs = std::filesystem;

namespace {

std::string first_line(const fs::path& file) {
  std::ifstream in{file};
  std::string line;
  std::getline(in, line);
  return line;
}

bool whole_number(const std::string& s) {
  return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

/// The interrupts of the device under `hw` or of its parents (a virtio disk's
/// device is a child of its PCI function, which holds `msi_irqs`).
std::vector<int> device_irqs(fs::path hw) {
  std::vector<int> irqs;
  for (int up = 0; up < 4 && irqs.empty() && hw.has_relative_path(); ++up, hw = hw.parent_path()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(hw / "msi_irqs", ec)) {
      auto name = e.path().filename().string();
      if (whole_number(name))
        irqs.push_back(std::stoi(name));
    }
    if (irqs.empty()) {
      auto line = first_line(hw / "irq");
      if (whole_number(line) && std::stoi(line) > 0)
        irqs.push_back(std::stoi(line));
    }
  }
  return irqs;
}

/// Interrupts taken so far by each IRQ number, over all CPUs (/proc/interrupts).
std::map<int, unsigned long long> interrupt_counts(const fs::path& file) {
  std::map<int, unsigned long long> counts;
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::string label;
    words >> label;
    if (label.size() < 2 || label.back() != ':' || !whole_number(label.substr(0, label.size() - 1)))
      continue;
    unsigned long long total = 0;
    std::string word;
    while (words >> word && word.find_first_not_of("0123456789") == std::string::npos)
      total += std::stoull(word);
    counts[std::stoi(label)] = total;
  }
  return counts;
}

} // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::istringstream parts{text};
  std::string part;
  while (std::getline(parts, part, ',')) {
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back())))
      part.pop_back();
    auto dash = part.find('-');
    auto lo = part.substr(0, dash);
    auto hi = dash == std::string::npos ? lo : part.substr(dash + 1);
    if (!whole_number(lo) || !whole_number(hi) || std::stoi(hi) < std::stoi(lo)
        || std::stoi(hi) - std::stoi(lo) > 65536)
      return {};
    for (int c = std::stoi(lo); c <= std::stoi(hi); ++c)
      cpus.push_back(c);
  }
  return cpus;
}

disk_interrupt_cpu completion_cpu_of(unsigned major_no, unsigned minor_no, const std::string& sys,
                                     const std::string& proc) {
  disk_interrupt_cpu out;
  auto id = std::to_string(major_no) + ":" + std::to_string(minor_no);
  std::error_code ec;
  auto dev = fs::canonical(fs::path{sys} / "dev" / "block" / id, ec);
  if (ec) {
    out.why = "no block device " + id + " in " + sys + "/dev/block";
    return out;
  }
  if (fs::exists(dev / "partition", ec))
    dev = dev.parent_path();
  out.disk = dev.filename().string();
  size_t queues = 0;
  for (const auto& e : fs::directory_iterator(dev / "mq", ec))
    queues += e.is_directory() ? 1 : 0;
  if (queues == 0) {
    out.why = out.disk + " shows no hardware queues";
    return out;
  }
  if (queues > 1) {
    out.why = out.disk + " has " + std::to_string(queues)
              + " hardware queues: completions come back on the CPU that asked";
    return out;
  }
  auto hw = fs::canonical(dev / "device", ec);
  auto irqs = ec ? std::vector<int>{} : device_irqs(hw);
  if (irqs.empty()) {
    out.why = "no interrupt of " + out.disk + " found";
    return out;
  }
  // A device has others (configuration changes): its completions come by
  // the one that fired most.
  auto counts = interrupt_counts(fs::path{proc} / "interrupts");
  unsigned long long most = 0;
  for (auto irq : irqs)
    if (auto it = counts.find(irq); it != counts.end() && it->second > most) {
      most = it->second;
      out.irq = irq;
    }
  if (out.irq < 0) {
    out.why = "no interrupt of " + out.disk + " has fired yet";
    return out;
  }
  auto dir = fs::path{proc} / "irq" / std::to_string(out.irq);
  auto list = first_line(dir / "effective_affinity_list");
  if (list.empty())
    list = first_line(dir / "smp_affinity_list");
  auto cpus = parse_cpu_list(list);
  if (cpus.size() != 1) {
    out.why = "IRQ " + std::to_string(out.irq) + " of " + out.disk + " goes to CPUs "
              + (list.empty() ? "(unknown)" : list);
    return out;
  }
  out.cpu = cpus.front();
  return out;
}

disk_interrupt_cpu completion_cpu(const std::string& path, const std::string& sys,
                                  const std::string& proc) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    disk_interrupt_cpu out;
    out.why = "cannot read " + path + ": " + std::strerror(errno);
    return out;
  }
  if (major(st.st_dev) == 0) {
    disk_interrupt_cpu out;
    out.why = path + " is not on a block device";
    return out;
  }
  return completion_cpu_of(major(st.st_dev), minor(st.st_dev), sys, proc);
}

} // namespace cairn::internal
