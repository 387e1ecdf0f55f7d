// SPDX-License-Identifier: Apache-2.0
#include "node_process.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cairn::test {

std::string cairn_binary() {
  return CAIRN_BINARY;
}

node_process::node_process(std::vector<std::string> args, std::string binary) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  fd_ = fds[0];
  fcntl(fd_, F_SETFL, O_NONBLOCK);
  // The node's output waits in the pipe until read (`drain`): room for a
  // chatty node between reads (info level, with CAIRN_TEST_KEEP), which a
  // full pipe would stall.
  fcntl(fd_, F_SETPIPE_SZ, 1 << 20);
}

node_process::~node_process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  if (fd_ >= 0)
    close(fd_);
}

void node_process::drain(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0)
    return;
  char buf[4096];
  for (;;) {
    auto n = read(fd_, buf, sizeof buf);
    if (n <= 0)
      break;
    out_.append(buf, static_cast<size_t>(n));
  }
}

bool node_process::running() {
  if (exited_)
    return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_)
    exited_ = true;
  return !exited_;
}

bool node_process::wait_for_output(const std::string& text, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (out_.find(text) == std::string::npos) {
    if (!running()) {
      drain(0);
      return out_.find(text) != std::string::npos;
    }
    if (std::chrono::steady_clock::now() > until)
      return false;
    drain(10);
  }
  return true;
}

void node_process::signal(int sig) {
  if (!exited_)
    ::kill(pid_, sig);
}

bool node_process::stopped() const {
  if (exited_)
    return false;
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  // "pid (comm) S ...": the state follows the last ')' (comm may hold one).
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size()
         && (stat[close + 2] == 'T' || stat[close + 2] == 't');
}

int node_process::wait(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (running()) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
      drain(0);
      return -1;
    }
    drain(10);
  }
  drain(0);
  if (WIFEXITED(status_))
    return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_))
    return 128 + WTERMSIG(status_);
  return -1;
}

std::string node_process::output() {
  drain(0);
  return out_;
}

} // namespace cairn::test
