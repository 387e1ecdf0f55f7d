// SPDX-License-Identifier: Apache-2.0
#include "etcd_process.hpp"

#include <csignal>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace cairn::test {

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

etcd_process::etcd_process() : client_port_(free_port()), peer_port_(free_port()) {
  url_ = "http://127.0.0.1:" + std::to_string(client_port_);
  start();
}

void etcd_process::start() {
  auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  proc_ = std::make_unique<node_process>(
    std::vector<std::string>{"--name", "default", "--data-dir", dir_.sub("etcd"),
                             "--listen-client-urls", url_, "--advertise-client-urls", url_,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", "default=" + peer},
    "/usr/bin/etcd");
  if (!proc_->wait_for_output("ready to serve client requests"))
    throw std::runtime_error("etcd did not start: " + proc_->output());
}

void etcd_process::kill() {
  proc_->signal(SIGKILL);
  proc_->wait();
}

bool etcd_process::running() {
  return proc_->running();
}

} // namespace cairn::test
