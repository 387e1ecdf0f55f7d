// SPDX-License-Identifier: Apache-2.0
// `cairn bench`: drives a node with a durable produce -> handle -> ack
// workload and reports throughput, latency, storage writes and CPU per
// message, the way `redis-benchmark` or `nats bench` report theirs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <time.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <sys/resource.h>

#include "cairn/plain_json.hpp"
#include "commands/bench_drive.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace json = boost::json;
using actors::latency_histogram;
using clock_type = std::chrono::steady_clock;

namespace {

int64_t system_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

double self_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

/// 1234567 as "1,234,567".
std::string grouped(uint64_t n) {
  auto s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

/// Microseconds as milliseconds or seconds, three significant digits.
std::string duration_text(uint64_t us) {
  char buf[32];
  double ms = static_cast<double>(us) / 1000.0;
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.3g s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.3g ms", ms);
  return buf;
}

/// What the producers share while the run lasts.
struct run_state {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> busy{0};
  std::atomic<size_t> running{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> producer_cpu_ns{0}; ///< the producer threads' CPU, as each ends
  std::mutex mu;
  std::string refusal, failure;
  latency_histogram accept_us;
};

void produce(const bench_settings& s, const std::string& run, bench_producer& prod, run_state& st,
             clock_type::time_point deadline) {
  latency_histogram local;
  actors::bench_msg proto;
  proto.run = run;
  proto.hops = s.hops;
  proto.actors = s.actors;
  // The payload is `size` bytes as JSON; the padding makes up the rest.
  auto fixed = bench_payload_json(proto).size() + 18; // seq and time digits
  proto.pad.assign(s.size > fixed ? s.size - fixed : 0, 'x');
  std::vector<actors::bench_msg> batch;
  while (!st.stop.load()) {
    if (s.duration_s > 0 && clock_type::now() >= deadline)
      break;
    uint64_t first = st.next.fetch_add(s.batch);
    if (s.duration_s <= 0 && first >= s.messages)
      break;
    uint64_t n = s.duration_s > 0 ? s.batch : std::min<uint64_t>(s.batch, s.messages - first);
    batch.assign(n, proto);
    auto sent = system_us();
    for (uint64_t i = 0; i < n; ++i) {
      batch[i].seq = first + i;
      batch[i].sent_us = sent;
    }
    auto t0 = clock_type::now();
    while (!batch.empty()) {
      auto r = prod.send(batch);
      if (!r.failure.empty()) {
        std::lock_guard lock{st.mu};
        if (st.failure.empty())
          st.failure = r.failure;
        st.stop = true;
        break;
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0);
      local.record(static_cast<uint64_t>(us.count()), r.accepted);
      st.accepted += r.accepted;
      if (r.refused > 0) {
        st.refused += r.refused;
        std::lock_guard lock{st.mu};
        if (st.refusal.empty())
          st.refusal = r.refusal;
      }
      if (r.busy.empty() || st.stop.load())
        break;
      // Refused for now (the node is saturated): send those again shortly.
      st.busy += r.busy.size();
      std::vector<actors::bench_msg> again;
      for (auto i : r.busy)
        again.push_back(std::move(batch[i]));
      batch = std::move(again);
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
  }
  std::lock_guard lock{st.mu};
  st.accept_us.merge(local);
}

json::object quantiles_ms(const latency_histogram& h) {
  auto ms = [](uint64_t us) { return std::round(static_cast<double>(us)) / 1000.0; };
  return json::object{{"p50", ms(h.quantile(0.5))},  {"p90", ms(h.quantile(0.9))},
                      {"p99", ms(h.quantile(0.99))}, {"p99.9", ms(h.quantile(0.999))},
                      {"max", ms(h.max())},          {"count", h.count()}};
}

struct outcome {
  std::string run;
  double send_s = 0, total_s = 0;
  uint64_t sent = 0;
  actors::bench_report report;
  std::optional<bench_counters> before, after;
  double bench_cpu_ms = 0;
};

int print_result(const bench_settings& s, const bench_target& t, run_state& st, const outcome& o,
                 bool as_json) {
  uint64_t accepted = st.accepted.load();
  uint64_t missing = accepted > o.report.received ? accepted - o.report.received : 0;
  double accept_rate = o.send_s > 0 ? static_cast<double>(accepted) / o.send_s : 0;
  double e2e_rate = o.total_s > 0 ? static_cast<double>(o.report.received) / o.total_s : 0;
  uint64_t commits = 0, requests = 0, read_back = 0, log_bytes = 0;
  double node_cpu_ms = 0;
  if (o.before && o.after) {
    commits = o.after->commits - o.before->commits;
    requests = o.after->commit_requests - o.before->commit_requests;
    read_back = o.after->rows_read - o.before->rows_read;
    log_bytes = o.after->log_bytes - o.before->log_bytes;
    node_cpu_ms = o.after->cpu_ms - o.before->cpu_ms;
  }
  // Each figure over the messages handled: CPU in µs, the log in bytes.
  auto per_message = [&](double x) {
    return o.report.received > 0 ? x / static_cast<double>(o.report.received) : 0.0;
  };
  double per_msg = per_message(node_cpu_ms * 1000.0);
  double log_per_msg = per_message(static_cast<double>(log_bytes)); // what it cost the disk
  double bench_per_msg = per_message(o.bench_cpu_ms * 1000.0);
  // In process: CPU per message by thread name, most first. The producers
  // report theirs as they end; a node thread that ended during the run is
  // missing, one started during it counts whole.
  std::vector<std::pair<std::string, double>> by_thread;
  if (o.before && o.after && o.report.received > 0) {
    auto per_msg_us = [&](double ms) {
      return std::round(ms * 10000.0 / static_cast<double>(o.report.received)) / 10;
    };
    for (const auto& [name, ms] : o.after->thread_cpu_ms) {
      auto was = o.before->thread_cpu_ms.find(name);
      double used = ms - (was == o.before->thread_cpu_ms.end() ? 0.0 : was->second);
      if (auto us = per_msg_us(used); us > 0)
        by_thread.emplace_back(name, us);
    }
    if (auto us = per_msg_us(static_cast<double>(st.producer_cpu_ns.load()) / 1e6);
        us > 0 && !o.after->thread_cpu_ms.empty())
      by_thread.emplace_back("cairn.producer", us);
    std::stable_sort(by_thread.begin(), by_thread.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
  }
  if (as_json) {
    json::object out{
      {"run", o.run},
      {"target", t.where()},
      {"durability", t.durability()},
      {"settings",
       json::object{
         {"messages", s.duration_s > 0 ? json::value(nullptr) : json::value(s.messages)},
         {"duration_s", s.duration_s > 0 ? json::value(s.duration_s) : json::value(nullptr)},
         {"size", s.size},
         {"producers", s.producers},
         {"actors", s.actors},
         {"hops", s.hops},
         {"batch", s.batch}}},
      {"sent", o.sent},
      {"accepted", accepted},
      {"refused", st.refused.load()},
      {"busy_retries", st.busy.load()},
      {"handled", o.report.received},
      {"duplicates", o.report.duplicates},
      {"missing", missing},
      {"send_s", std::round(o.send_s * 1000) / 1000},
      {"elapsed_s", std::round(o.total_s * 1000) / 1000},
      {"accepted_per_s", std::round(accept_rate)},
      {"end_to_end_per_s", std::round(e2e_rate)},
      {"accept_latency_ms", quantiles_ms(st.accept_us)},
      {"end_to_end_latency_ms", quantiles_ms(o.report.end_to_end_us)},
      {"storage_writes", commits},
      {"commit_requests_per_write",
       commits > 0
         ? std::round(static_cast<double>(requests) * 10 / static_cast<double>(commits)) / 10
         : 0.0},
      {"rows_read_back", read_back},
      {"log_bytes", log_bytes},
      {"log_bytes_per_message", std::round(log_per_msg * 10) / 10},
      {"cpu_us_per_message",
       json::object{{t.in_process() ? "process" : "node", std::round(per_msg * 10) / 10},
                    {"bench", t.in_process() ? json::value(nullptr)
                                             : json::value(std::round(bench_per_msg * 10) / 10)}}}};
    if (t.in_process()) {
      json::object threads;
      for (const auto& [name, us] : by_thread)
        threads[name] = us;
      out["cpu_us_per_message_by_thread"] = std::move(threads);
    }
    if (!st.refusal.empty())
      out["first_refusal"] = st.refusal;
    if (!st.failure.empty())
      out["failure"] = st.failure;
    std::printf("%s\n", serialize_plain(out).c_str());
  } else {
    std::printf("run         %s on %s (durability %s)\n", o.run.c_str(), t.where().c_str(),
                t.durability().c_str());
    std::printf("workload    %s messages of %zu B, %zu producers, %s, %u actors, %u hops\n",
                grouped(o.sent).c_str(), s.size, s.producers,
                s.batch == 1 ? "one message per request"
                             : ("batches of " + std::to_string(s.batch)).c_str(),
                s.actors, s.hops);
    std::printf("messages    %s accepted, %s refused (%s busy retries), %s handled, %s duplicates, "
                "%s missing\n",
                grouped(accepted).c_str(), grouped(st.refused.load()).c_str(),
                grouped(st.busy.load()).c_str(), grouped(o.report.received).c_str(),
                grouped(o.report.duplicates).c_str(), grouped(missing).c_str());
    std::printf("throughput  %s msgs/s accepted (%.2f s), %s msgs/s end to end (%.2f s)\n",
                grouped(static_cast<uint64_t>(accept_rate)).c_str(), o.send_s,
                grouped(static_cast<uint64_t>(e2e_rate)).c_str(), o.total_s);
    std::printf("latency     %-12s %10s %10s %10s %10s %10s\n", "", "p50", "p90", "p99", "p99.9",
                "max");
    using row = std::pair<const char*, const latency_histogram*>;
    for (auto [name, h] :
         {row{"accept", &st.accept_us}, row{"end to end", &o.report.end_to_end_us}})
      std::printf("            %-12s %10s %10s %10s %10s %10s\n", name,
                  duration_text(h->quantile(0.5)).c_str(), duration_text(h->quantile(0.9)).c_str(),
                  duration_text(h->quantile(0.99)).c_str(),
                  duration_text(h->quantile(0.999)).c_str(), duration_text(h->max()).c_str());
    if (o.before && o.after) {
      std::printf("storage     %s writes, %.1f commit requests each; %s B to the log, %.0f B a "
                  "message\n",
                  grouped(commits).c_str(),
                  commits > 0 ? static_cast<double>(requests) / static_cast<double>(commits) : 0.0,
                  grouped(log_bytes).c_str(), log_per_msg);
      if (read_back > 0)
        std::printf("            %s rows read back from storage (at an actor's start, or when "
                    "more arrived for it than its window holds: --activation-window)\n",
                    grouped(read_back).c_str());
    }
    if (t.in_process()) {
      std::printf("cpu         %.1f us per message (node and producers, one process)\n", per_msg);
      std::string line;
      for (size_t i = 0; i < by_thread.size() && i < 6; ++i) {
        char part[96];
        std::snprintf(part, sizeof part, "%s%s %.1f", i == 0 ? "" : ", ",
                      by_thread[i].first.c_str(), by_thread[i].second);
        line += part;
      }
      if (!line.empty())
        std::printf("            by thread: %s\n", line.c_str());
    } else
      std::printf("cpu         %.1f us per message on the node, %.1f in cairn bench\n", per_msg,
                  bench_per_msg);
  }
  if (!st.failure.empty()) {
    std::fprintf(stderr, "cairn bench: the run stopped: %s\n", st.failure.c_str());
    return exit_unreachable;
  }
  if (st.refused.load() > 0) {
    std::fprintf(stderr, "cairn bench: %s messages were refused; the first: %s\n",
                 grouped(st.refused.load()).c_str(), st.refusal.c_str());
    return exit_node_error;
  }
  if (missing > 0 || o.report.duplicates > 0) {
    std::fprintf(stderr,
                 "cairn bench: %s accepted messages were not handled within %.0f s, %s were "
                 "handled twice\n",
                 grouped(missing).c_str(), s.drain_timeout_s, grouped(o.report.duplicates).c_str());
    return exit_node_error;
  }
  return exit_ok;
}

int run_bench(const bench_settings& s, const client_options& co, bool progress) {
  if (!s.spans && !s.embedded) {
    std::fprintf(stderr, "cairn bench: --no-spans needs --embedded (a running node always records "
                         "spans)\n");
    return exit_usage;
  }
  // The embedded node's settings mean nothing to a running one: say so
  // rather than measure something else than was asked.
  for (auto [given, flag] : {std::pair{!s.data.empty(), "--data"},
                             {s.threads > 0, "--threads"},
                             {!s.scheduler.empty(), "--scheduler"}})
    if (given && !s.embedded) {
      std::fprintf(stderr,
                   "cairn bench: %s sets the embedded node's; add --embedded, or set it where "
                   "the node at --node starts (cairn node %s)\n",
                   flag, flag);
      return exit_usage;
    }
  std::string why;
  int code = exit_usage;
  auto target = s.embedded ? open_embedded_target(s, why) : open_http_target(co, why, code);
  if (!target) {
    std::fprintf(stderr, "cairn bench: %s\n", why.c_str());
    return s.embedded ? exit_node_error : code;
  }
  if (!s.embedded && !s.durability.empty() && s.durability != target->durability()) {
    std::fprintf(stderr,
                 "cairn bench: the node runs with durability %s, not %s: start it with "
                 "--durability %s, or leave --durability out\n",
                 target->durability().c_str(), s.durability.c_str(), s.durability.c_str());
    return exit_usage;
  }
  outcome o;
  o.run = "r" + std::to_string(system_us()) + "p" + std::to_string(getpid());
  o.before = target->counters(why);
  auto cpu0 = self_cpu_ms();
  run_state st;
  auto start = clock_type::now();
  auto start_us = system_us();
  auto deadline =
    start
    + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.duration_s));
  std::vector<std::thread> producers;
  st.running = s.producers;
  for (size_t p = 0; p < s.producers; ++p)
    producers.emplace_back([&, prod = target->producer()] {
      pthread_setname_np(pthread_self(), "cairn.producer"); // the load, apart from the node's
      produce(s, o.run, *prod, st, deadline);
      timespec cpu{};
      if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        st.producer_cpu_ns +=
          static_cast<uint64_t>(cpu.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(cpu.tv_nsec);
      --st.running;
    });
  // One progress line a second on stderr while sending, then while the
  // accepted messages are being handled.
  auto last_line = start;
  uint64_t last_accepted = 0, last_handled = 0;
  auto last_change = start;
  bool sending = true;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds{sending ? 50 : 100});
    auto now = clock_type::now();
    if (sending && st.running.load() == 0) {
      sending = false;
      o.send_s = std::chrono::duration<double>(now - start).count();
    }
    bool line_due = now - last_line >= std::chrono::seconds{1};
    if (sending && !line_due)
      continue;
    auto r = target->report(o.run, why);
    if (!r) {
      std::lock_guard lock{st.mu};
      if (st.failure.empty())
        st.failure = "cannot read the run's report: " + why;
      st.stop = true;
      break;
    }
    o.report = std::move(*r);
    if (o.report.received != last_handled) {
      last_handled = o.report.received;
      last_change = now;
    }
    uint64_t accepted = st.accepted.load();
    if (progress && line_due) {
      double secs = std::chrono::duration<double>(now - last_line).count();
      std::fprintf(
        stderr,
        "[%6.1f s] %s msgs/s accepted  %s accepted  %s handled  %s pending  "
        "end-to-end p99 %s\n",
        std::chrono::duration<double>(now - start).count(),
        grouped(static_cast<uint64_t>(static_cast<double>(accepted - last_accepted) / secs))
          .c_str(),
        grouped(accepted).c_str(), grouped(o.report.received).c_str(),
        grouped(accepted - std::min(accepted, o.report.received)).c_str(),
        duration_text(o.report.end_to_end_us.quantile(0.99)).c_str());
      last_line = now;
      last_accepted = accepted;
    }
    if (!sending
        && (o.report.received >= accepted
            || now - last_change > std::chrono::duration<double>(s.drain_timeout_s)))
      break;
  }
  for (auto& p : producers)
    p.join();
  if (o.send_s == 0)
    o.send_s = std::chrono::duration<double>(clock_type::now() - start).count();
  o.sent = std::min(st.next.load(), s.duration_s > 0 ? st.next.load() : s.messages);
  o.total_s = o.report.received > 0 ? static_cast<double>(o.report.last_us - start_us) / 1e6 : 0;
  o.after = target->counters(why);
  o.bench_cpu_ms = self_cpu_ms() - cpu0;
  return print_result(s, *target, st, o, co.json);
}

} // namespace

void add_bench_run(CLI::App& app, int& exit_code) {
  auto s = std::make_shared<bench_settings>();
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
    "bench", "Measure a node: send messages to `bench` actors, which hand each on --hops times "
             "and ack it; report msgs/s, latency, storage writes and CPU per message");
  cmd->add_option("--messages,-n", s->messages, "Messages to send")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  cmd->add_option("--duration", s->duration_s, "Send for this many seconds instead of --messages")
    ->check(CLI::PositiveNumber);
  cmd->add_option("--size", s->size, "Payload bytes per message (as JSON)")
    ->capture_default_str()
    ->check(CLI::Range(size_t{0}, size_t{1} << 20));
  cmd->add_option("--producers,-p", s->producers, "Threads sending, each waiting for its answers")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{1024}));
  cmd->add_option("--actors,-a", s->actors, "Actors receiving")
    ->capture_default_str()
    ->check(CLI::Range(uint32_t{1}, uint32_t{1'000'000}));
  cmd->add_option("--hops", s->hops, "Sends from actor to actor after each delivery")
    ->capture_default_str()
    ->check(CLI::Range(uint32_t{0}, uint32_t{100}));
  cmd
    ->add_option("--batch,-b", s->batch,
                 "Messages per request: 1 sends each alone, more go through "
                 "POST /api/v1/messages:batch (or runtime::accept_batch)")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{1000}));
  cmd
    ->add_option("--durability", s->durability,
                 "os or fsync: the embedded node's (default os); for --node, checked against "
                 "the node's")
    ->check(CLI::IsMember({"os", "fsync"}));
  cmd->add_flag("--embedded", s->embedded, "Run a node in this process instead of using --node");
  cmd->add_option("--data", s->data,
                  "The embedded node's data directory (default: a temporary "
                  "one, removed afterwards)");
  cmd->add_option("--threads", s->threads,
                  "The embedded node's scheduler threads (default: its own)");
  cmd
    ->add_option("--scheduler", s->scheduler,
                 "The embedded node's scheduler: sharing (its default) or stealing")
    ->check(CLI::IsMember({"sharing", "stealing"}));
  cmd->add_flag_function(
    "--no-spans", [s](int64_t) { s->spans = false; },
    "The embedded node records no spans (to measure what tracing costs; a node always records "
    "them)");
  cmd
    ->add_option("--drain-timeout", s->drain_timeout_s,
                 "Seconds without progress before accepted but unhandled messages count as "
                 "missing")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet,-q", *quiet,
                "No progress lines on stderr (with --embedded, the node's warnings and errors "
                "only)");
  auto o = add_client_options(cmd);
  cmd->footer("Exit codes: 0 every accepted message was handled once; 1 messages were refused, "
              "missing or handled twice; 2 bad arguments; 3 the node is unreachable.");
  cmd->callback([s, o, quiet, &exit_code] {
    s->quiet = *quiet;
    exit_code = run_bench(*s, *o, !*quiet);
  });
}

} // namespace cairn::cli
