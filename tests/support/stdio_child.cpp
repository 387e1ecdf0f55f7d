// SPDX-License-Identifier: Apache-2.0
#include "stdio_child.hpp"

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace cairn::test {

namespace {

int ms_until(std::chrono::steady_clock::time_point until) {
  auto left =
    std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 100));
}

} // namespace

stdio_child::stdio_child(std::string binary, std::vector<std::string> args) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  // argv is built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> argv;
  argv.push_back(binary.data());
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  for (int fd : {in_, out_, err_})
    fcntl(fd, F_SETFL, O_NONBLOCK);
  // A child that exits while we write must not kill the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
}

stdio_child::~stdio_child() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0)
      close(fd);
}

void stdio_child::drain(int timeout_ms) {
  pollfd p[2];
  nfds_t n = 0;
  if (out_ >= 0)
    p[n++] = {out_, POLLIN, 0};
  if (err_ >= 0)
    p[n++] = {err_, POLLIN, 0};
  if (n == 0 || poll(p, n, timeout_ms) <= 0)
    return;
  for (nfds_t i = 0; i < n; ++i) {
    if (!p[i].revents)
      continue;
    bool is_out = p[i].fd == out_;
    char buf[8192];
    for (;;) {
      auto r = read(p[i].fd, buf, sizeof buf);
      if (r > 0) {
        (is_out ? stdout_ : stderr_).append(buf, static_cast<size_t>(r));
        continue;
      }
      if (r == 0) { // end of file
        close(p[i].fd);
        (is_out ? out_ : err_) = -1;
      }
      break;
    }
  }
}

bool stdio_child::write(const std::string& text, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  size_t done = 0;
  while (done < text.size()) {
    if (in_ < 0 || std::chrono::steady_clock::now() > until)
      return false;
    auto w = ::write(in_, text.data() + done, text.size() - done);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return false; // EPIPE: the child is gone
    // Its stdin pipe is full: read its answers while it works through it.
    pollfd p{in_, POLLOUT, 0};
    drain(0);
    poll(&p, 1, ms_until(until));
  }
  return true;
}

std::optional<std::string> stdio_child::read_line(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto nl = stdout_.find('\n');
    if (nl != std::string::npos) {
      auto line = stdout_.substr(0, nl);
      stdout_.erase(0, nl + 1);
      return line;
    }
    if (out_ < 0 || std::chrono::steady_clock::now() > until)
      return std::nullopt;
    drain(ms_until(until));
  }
}

void stdio_child::close_stdin() {
  if (in_ >= 0)
    close(in_);
  in_ = -1;
}

bool stdio_child::running() {
  if (exited_)
    return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_)
    exited_ = true;
  return !exited_;
}

int stdio_child::wait(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (running()) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
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

const std::string& stdio_child::error_output() {
  drain(0);
  return stderr_;
}

} // namespace cairn::test
