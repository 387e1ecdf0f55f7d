// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace cairn::test {

/// `Cpus_allowed_list` of process `pid`'s thread named `comm` ("0-1"), or
/// with an empty `comm` of its main thread; "" if there is no such thread.
inline std::string cpus_allowed(int pid, const std::string& comm = {}) {
  auto tasks = std::filesystem::path{"/proc"} / std::to_string(pid) / "task";
  for (const auto& t : std::filesystem::directory_iterator(tasks)) {
    std::ifstream name_file{t.path() / "comm"};
    std::string name;
    std::getline(name_file, name);
    if (comm.empty() ? t.path().filename() != std::to_string(pid) : name != comm)
      continue;
    std::ifstream status{t.path() / "status"};
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        return line.substr(line.find_first_not_of(" \t", 18));
  }
  return {};
}

} // namespace cairn::test
