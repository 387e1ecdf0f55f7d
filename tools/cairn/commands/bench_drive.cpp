// SPDX-License-Identifier: Apache-2.0
// The targets of `cairn bench` that share code, and the embedded node
// (bench_http.cpp has the node over HTTP).
#include "commands/bench_drive.hpp"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cairn/runtime.hpp"

namespace cairn::cli {

namespace {

template <class Integer>
void append_number(std::string& out, Integer v) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out.append(digits, end);
}

} // namespace

void append_bench_payload_json(std::string& out, const actors::bench_msg& m) {
  out += R"({"run":")";
  out += m.run;
  out += R"(","seq":)";
  append_number(out, m.seq);
  out += R"(,"sent_us":)";
  append_number(out, m.sent_us);
  out += R"(,"hops":)";
  append_number(out, m.hops);
  out += R"(,"actors":)";
  append_number(out, m.actors);
  out += R"(,"pad":")";
  out += m.pad;
  out += R"("})";
}

std::string bench_payload_json(const actors::bench_msg& m) {
  std::string out;
  out.reserve(96 + m.run.size() + m.pad.size());
  append_bench_payload_json(out, m);
  return out;
}

void append_bench_actor_of(std::string& out, const actors::bench_msg& m) {
  out += "bench/";
  out += m.run;
  out += '-';
  append_number(out, m.seq % m.actors);
}

std::string bench_actor_of(const actors::bench_msg& m) {
  std::string out;
  append_bench_actor_of(out, m);
  return out;
}

namespace {

class embedded_producer : public bench_producer {
public:
  explicit embedded_producer(runtime& rt) : rt_(rt) {}

  bench_send_result send(const std::vector<actors::bench_msg>& batch) override {
    std::vector<envelope> envs;
    envs.reserve(batch.size());
    for (const auto& m : batch) {
      envelope env;
      env.from = "external";
      env.to = bench_actor_of(m);
      env.type = type_tag<actors::bench_msg>::value;
      env.payload = encode(m);
      envs.push_back(std::move(env));
    }
    bench_send_result r;
    std::vector<runtime::batch_result> results;
    if (envs.size() == 1) {
      // One message: the plain accept, as an application calls it.
      results.resize(1);
      auto id = rt_.accept(std::move(envs.front()));
      results.front().id = std::move(id);
    } else {
      std::promise<std::vector<runtime::batch_result>> answered;
      auto f = answered.get_future();
      rt_.accept_batch(std::move(envs), [&answered](std::vector<runtime::batch_result> res) {
        answered.set_value(std::move(res));
      });
      results = f.get();
    }
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].id) {
        ++r.accepted;
      } else if (code_of(results[i].id.error()) == errc::busy) {
        r.busy.push_back(i);
      } else if (++r.refused == 1) {
        r.refusal = render(results[i].id.error());
      }
    }
    return r;
  }

private:
  runtime& rt_;
};

/// CPU time of this process's threads by name, from /proc/self/task: each
/// thread's time on a CPU in nanoseconds (`schedstat`'s first field), or if
/// the kernel has none, its utime and stime in clock ticks (`stat`'s 14th
/// and 15th fields, counted after the name's closing parenthesis: a name
/// may hold spaces).
std::map<std::string, double> thread_cpu_ms() {
  std::map<std::string, double> out;
  static const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator{"/proc/self/task", ec}) {
    std::ifstream stat{task.path() / "stat"};
    std::string line;
    if (!std::getline(stat, line))
      continue; // the thread ended meanwhile
    auto open = line.find('(');
    auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open)
      continue;
    auto name = line.substr(open + 1, close - open - 1);
    std::ifstream sched{task.path() / "schedstat"};
    double on_cpu_ns = -1;
    if (sched >> on_cpu_ns) {
      out[name] += on_cpu_ns / 1e6;
      continue;
    }
    std::istringstream rest{line.substr(close + 1)};
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15)
        ticks += std::strtod(field.c_str(), nullptr);
    out[name] += ticks * tick_ms;
  }
  return out;
}

class embedded_target : public bench_target {
public:
  embedded_target(std::unique_ptr<runtime> rt, std::string dir, bool remove, std::string mode)
    : rt_(std::move(rt)), dir_(std::move(dir)), remove_(remove), mode_(std::move(mode)) {}

  ~embedded_target() override {
    rt_.reset();
    if (remove_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  std::string where() const override {
    return "embedded node (data in " + dir_ + (rt_->options().record_spans ? ")" : ", no spans)");
  }
  std::string durability() const override { return mode_; }
  bool in_process() const override { return true; }
  std::unique_ptr<bench_producer> producer() override {
    return std::make_unique<embedded_producer>(*rt_);
  }
  std::optional<actors::bench_report> report(const std::string& run, std::string&) override {
    auto r = actors::bench_report_of(run);
    if (!r) {
      r.emplace();
      r->run = run;
    }
    return r;
  }
  std::optional<bench_counters> counters(std::string&) override {
    auto s = rt_->stats();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto ms = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
    };
    return bench_counters{ms(ru.ru_utime) + ms(ru.ru_stime),
                          s.commits,
                          s.commit_ops,
                          thread_cpu_ms(),
                          s.mailbox_rows_read,
                          s.log_bytes};
  }

private:
  std::unique_ptr<runtime> rt_;
  std::string dir_;
  bool remove_;
  std::string mode_;
};

} // namespace

std::unique_ptr<bench_target> open_embedded_target(const bench_settings& s, std::string& why) {
  namespace fs = std::filesystem;
  // The embedded node logs to stderr: stdout carries the report (--json).
  // Quiet, only what needs a look (a warning, an error) is printed.
  auto log = std::make_shared<spdlog::logger>(
    "bench", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (s.quiet)
    log->set_level(spdlog::level::warn);
  spdlog::set_default_logger(std::move(log));
  std::string dir = s.data;
  bool remove = false;
  std::error_code ec;
  if (dir.empty()) {
    auto base = fs::temp_directory_path(ec);
    if (ec)
      base = ".";
    dir = (base / ("cairn-bench-" + std::to_string(getpid()))).string();
    fs::remove_all(dir, ec);
    remove = true;
  }
  runtime_options opts;
  opts.data_dir = dir;
  std::string mode = s.durability.empty() ? "os" : s.durability;
  opts.mode = durability_named(mode).value_or(durability::os);
  if (s.threads > 0)
    opts.threads = s.threads;
  if (!s.scheduler.empty())
    opts.scheduler = scheduling_named(s.scheduler).value_or(scheduling::sharing);
  opts.record_spans = s.spans;
  auto rt = runtime::open(opts);
  if (!rt) {
    why = "cannot open an embedded node in " + dir + ": " + render(rt.error());
    return nullptr;
  }
  actors::register_bench_workload(**rt);
  if (auto err = (*rt)->start()) {
    why = "cannot start the embedded node: " + render(err);
    return nullptr;
  }
  return std::make_unique<embedded_target>(std::move(*rt), dir, remove, mode);
}

} // namespace cairn::cli
