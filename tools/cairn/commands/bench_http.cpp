// SPDX-License-Identifier: Apache-2.0
// `cairn bench` over HTTP: one keep-alive connection per producer, single
// messages or `POST /api/v1/messages:batch`.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "commands/bench_drive.hpp"

namespace cairn::cli {

namespace json = boost::json;

namespace {

/// One HTTP/1.1 keep-alive connection, blocking, used by one thread.
/// Bodies are read by Content-Length (what the node always sends).
class http_conn {
public:
  http_conn(node_url u, std::string token) : url_(std::move(u)), token_(std::move(token)) {}
  ~http_conn() { close(); }
  http_conn(const http_conn&) = delete;
  http_conn& operator=(const http_conn&) = delete;

  /// The answer's status and body; 0 and `err` set when there is none.
  int exchange(const std::string& method, const std::string& target, const std::string& ctype,
               std::string_view body, std::string& out, std::string& err) {
    // The head is built in a kept buffer and goes out with the body in one
    // call: the body is not copied behind it.
    head_.clear();
    head_ += method;
    head_ += ' ';
    head_ += url_.path;
    head_ += target;
    head_ += " HTTP/1.1\r\nHost: ";
    head_ += url_.host;
    head_ += ':';
    head_ += url_.port;
    head_ += "\r\n";
    if (!token_.empty()) {
      head_ += "Authorization: Bearer ";
      head_ += token_;
      head_ += "\r\n";
    }
    if (!ctype.empty()) {
      head_ += "Content-Type: ";
      head_ += ctype;
      head_ += "\r\n";
    }
    head_ += "Content-Length: ";
    head_ += std::to_string(body.size());
    head_ += "\r\n\r\n";
    // A kept-alive connection the node closed meanwhile fails at once:
    // open a new one and send again (nothing of it reached the node).
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = fd_ >= 0;
      if (fd_ < 0 && !open(err))
        return 0;
      bool got_any = false;
      if (write_all(head_, body, err)) {
        int status = read_answer(out, err, got_any);
        if (status != 0)
          return status;
      }
      close();
      if (!reused || got_any)
        return 0;
    }
    return 0;
  }

private:
  bool open(std::string& err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &res); rc != 0) {
      err = "cannot resolve " + url_.host + ": " + gai_strerror(rc);
      return false;
    }
    for (auto* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ >= 0 && ::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
        err = std::string{"cannot connect to "} + url_.host + ":" + url_.port + ": "
              + std::strerror(errno);
        close();
      }
    }
    freeaddrinfo(res);
    if (fd_ < 0)
      return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{30, 0}; // no answer in 30 s: the node is stuck
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    buf_.clear();
    return true;
  }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  bool write_all(std::string_view head, std::string_view body, std::string& err) {
    iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                      {const_cast<char*>(body.data()), body.size()}};
    msghdr msg{};
    msg.msg_iov = parts;
    msg.msg_iovlen = body.empty() ? 1 : 2;
    while (msg.msg_iovlen > 0) {
      auto n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        err = std::string{"cannot send: "} + std::strerror(errno);
        return false;
      }
      // Step past what went out: whole parts, then into the next one.
      auto sent = static_cast<size_t>(n);
      while (msg.msg_iovlen > 0 && sent >= msg.msg_iov->iov_len) {
        sent -= msg.msg_iov->iov_len;
        ++msg.msg_iov;
        --msg.msg_iovlen;
      }
      if (msg.msg_iovlen > 0) {
        msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + sent;
        msg.msg_iov->iov_len -= sent;
      }
    }
    return true;
  }

  bool fill(std::string& err, bool& got_any) {
    char chunk[16384];
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        got_any = true;
        return true;
      }
      err = n == 0 ? "the node closed the connection"
                   : std::string{"no answer: "} + std::strerror(errno);
      return false;
    }
  }

  int read_answer(std::string& out, std::string& err, bool& got_any) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(err, got_any))
        return 0;
    std::string head = buf_.substr(0, head_end);
    int status = 0;
    if (auto sp = head.find(' '); sp != std::string::npos)
      status = std::atoi(head.c_str() + sp + 1);
    size_t length = 0;
    bool close_after = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto line = head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = line.substr(0, colon);
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (name == "content-length")
          length = std::strtoull(value.c_str(), nullptr, 10);
        else if (name == "connection" && (value == "close" || value == "Close"))
          close_after = true;
      }
      pos = next;
    }
    size_t body_at = head_end + 4;
    while (buf_.size() < body_at + length)
      if (!fill(err, got_any))
        return 0;
    out.assign(buf_, body_at, length);
    buf_.erase(0, body_at + length);
    if (close_after)
      close();
    return status > 0 ? status : (err = "a malformed answer", 0);
  }

  node_url url_;
  std::string token_;
  int fd_ = -1;
  std::string buf_;
  std::string head_;
};

/// The problem detail of an error answer, or the body itself.
std::string detail_of(int status, const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object())
    if (auto* d = v.as_object().if_contains("detail"); d && d->is_string())
      return "HTTP " + std::to_string(status) + ": " + std::string{d->as_string()};
  return "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
}

bool busy_status(int status) {
  return status == 429 || status == 503;
}

class http_producer : public bench_producer {
public:
  http_producer(node_url u, std::string token) : conn_(std::move(u), std::move(token)) {}

  bench_send_result send(const std::vector<actors::bench_msg>& batch) override {
    bench_send_result r;
    std::string out, err;
    if (batch.size() == 1) {
      const auto& m = batch.front();
      auto id = bench_actor_of(m);
      auto target = "/api/v1/actors/bench%2F" + id.substr(6) + "/messages";
      auto body = R"({"type":"bench.msg/v1","payload":)" + bench_payload_json(m) + "}";
      int status = conn_.exchange("POST", target, "application/json", body, out, err);
      if (status == 0)
        r.failure = err;
      else if (status == 202)
        r.accepted = 1;
      else if (busy_status(status))
        r.busy.push_back(0);
      else
        r = refuse_all(1, detail_of(status, out));
      return r;
    }
    // Built in a kept buffer, each message written straight into it.
    auto& body = body_;
    body.clear();
    body += '[';
    for (const auto& m : batch) {
      if (body.size() > 1)
        body += ',';
      body += R"({"to":")";
      append_bench_actor_of(body, m);
      body += R"(","type":"bench.msg/v1","payload":)";
      append_bench_payload_json(body, m);
      body += '}';
    }
    body += ']';
    int status =
      conn_.exchange("POST", "/api/v1/messages:batch", "application/json", body, out, err);
    if (status == 0) {
      r.failure = err;
      return r;
    }
    if (status != 202) {
      if (!busy_status(status))
        return refuse_all(batch.size(), detail_of(status, out));
      for (size_t i = 0; i < batch.size(); ++i)
        r.busy.push_back(i);
      return r;
    }
    // The answer starts with its counts: all accepted and none refused is
    // the whole story, and the results need no reading one by one.
    if (auto counts = batch_answer_counts(out);
        counts && counts->first == batch.size() && counts->second == 0) {
      r.accepted = batch.size();
      return r;
    }
    boost::system::error_code ec;
    auto v = json::parse(out, ec);
    const json::array* results = nullptr;
    if (!ec && v.is_object())
      if (auto* a = v.as_object().if_contains("results"); a && a->is_array())
        results = &a->as_array();
    if (results == nullptr || results->size() != batch.size()) {
      r.failure = "the batch answer does not have one result per message: " + out.substr(0, 200);
      return r;
    }
    for (size_t i = 0; i < results->size(); ++i) {
      const auto& one = (*results)[i].as_object();
      if (one.contains("id")) {
        ++r.accepted;
        continue;
      }
      auto* st = one.if_contains("status");
      int s = st && st->is_int64() ? static_cast<int>(st->as_int64()) : 0;
      if (busy_status(s)) {
        r.busy.push_back(i);
      } else if (++r.refused == 1) {
        auto* d = one.if_contains("detail");
        r.refusal = d && d->is_string() ? std::string{d->as_string()} : json::serialize(one);
      }
    }
    return r;
  }

private:
  static bench_send_result refuse_all(size_t n, std::string why) {
    bench_send_result r;
    r.refused = n;
    r.refusal = std::move(why);
    return r;
  }

  http_conn conn_;
  std::string body_;
};

class http_target : public bench_target {
public:
  http_target(client_options o, node_url u)
    : o_(std::move(o)), url_(std::move(u)), conn_(url_, o_.token) {}

  bool connect(std::string& why, int& code) {
    std::string out;
    int status = conn_.exchange("GET", "/api/v1/status", "", "", out, why);
    if (status == 0) {
      code = exit_unreachable;
      why = "cannot reach the node at " + o_.node + ": " + why;
      return false;
    }
    boost::system::error_code ec;
    auto v = json::parse(out, ec);
    if (status != 200 || ec || !v.is_object()) {
      code = exit_node_error;
      why = "the node at " + o_.node + " did not answer its status: " + detail_of(status, out);
      return false;
    }
    if (auto* d = v.as_object().if_contains("durability"); d && d->is_string())
      durability_ = std::string{d->as_string()};
    // The bench actors count on the node that handles them; a cluster
    // spreads them over its members.
    if (conn_.exchange("GET", "/api/v1/cluster", "", "", out, why) == 200) {
      code = exit_usage;
      why = "the node at " + o_.node
            + " is a cluster member; cairn bench drives a single node "
              "(bench/cluster_bench.cpp measures clusters)";
      return false;
    }
    auto kinds = node_kinds(o_);
    if (kinds && std::find(kinds->begin(), kinds->end(), "bench") == kinds->end()) {
      code = exit_node_error;
      why = "the node at " + o_.node + " has no `bench` actor kind (is it an older cairn?)";
      return false;
    }
    return true;
  }

  std::string where() const override { return o_.node; }
  std::string durability() const override { return durability_; }
  bool in_process() const override { return false; }
  std::unique_ptr<bench_producer> producer() override {
    return std::make_unique<http_producer>(url_, o_.token);
  }

  std::optional<actors::bench_report> report(const std::string& run, std::string& why) override {
    std::string out;
    int status = conn_.exchange("GET", "/api/v1/bench/" + run, "", "", out, why);
    if (status == 404) {
      actors::bench_report empty;
      empty.run = run;
      return empty;
    }
    if (status != 200) {
      if (status != 0)
        why = detail_of(status, out);
      return std::nullopt;
    }
    auto r = actors::parse_bench_report(out);
    if (!r)
      why = "the node's bench report is not one: " + out.substr(0, 200);
    return r;
  }

  std::optional<bench_counters> counters(std::string& why) override {
    std::string out;
    int status = conn_.exchange("GET", "/api/v1/status", "", "", out, why);
    boost::system::error_code ec;
    auto v = status == 200 ? json::parse(out, ec) : json::value{};
    if (status != 200 || ec || !v.is_object()) {
      if (status != 0)
        why = detail_of(status, out);
      return std::nullopt;
    }
    const auto& o = v.as_object();
    bench_counters c;
    auto num = [](const json::value* x) {
      return x && x->is_number() ? x->to_number<double>() : 0.0;
    };
    c.cpu_ms = num(o.if_contains("cpu_ms"));
    if (auto* t = o.if_contains("totals"); t && t->is_object()) {
      c.commits = static_cast<uint64_t>(num(t->as_object().if_contains("commits")));
      c.commit_requests = static_cast<uint64_t>(num(t->as_object().if_contains("commit_requests")));
      c.rows_read = static_cast<uint64_t>(num(t->as_object().if_contains("mailbox_rows_read")));
      c.log_bytes = static_cast<uint64_t>(num(t->as_object().if_contains("log_bytes")));
    }
    return c;
  }

private:
  client_options o_;
  node_url url_;
  http_conn conn_; // the main thread's: status and reports
  std::string durability_ = "os";
};

} // namespace

std::optional<std::pair<size_t, size_t>> batch_answer_counts(std::string_view body) {
  auto number = [&](std::string_view name, size_t& value) {
    if (body.substr(0, name.size()) != name)
      return false;
    body.remove_prefix(name.size());
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
    if (ec != std::errc{})
      return false;
    body.remove_prefix(static_cast<size_t>(end - body.data()));
    return true;
  };
  size_t accepted = 0, refused = 0;
  if (!number(R"({"accepted":)", accepted) || !number(R"(,"refused":)", refused)
      || body.substr(0, 1) != ",")
    return std::nullopt;
  return std::pair{accepted, refused};
}

std::unique_ptr<bench_target> open_http_target(const client_options& o, std::string& why,
                                               int& code) {
  auto u = parse_node_url(o.node, why);
  if (!u) {
    code = exit_usage;
    return nullptr;
  }
  if (!u->path.empty() && u->path != "/") {
    why = "invalid --node URL '" + o.node + "': give the node's root, without a path";
    code = exit_usage;
    return nullptr;
  }
  u->path.clear();
  auto t = std::make_unique<http_target>(o, *u);
  if (!t->connect(why, code))
    return nullptr;
  return t;
}

} // namespace cairn::cli
