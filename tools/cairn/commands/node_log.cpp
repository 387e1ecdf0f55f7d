// SPDX-License-Identifier: Apache-2.0
// A node's logs (text or JSON lines on stderr) and its progress line.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <boost/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cairn/log_context.hpp"
#include "cairn/runtime.hpp"
#include "commands/node_run.hpp"

namespace cairn::cli {

namespace {

namespace json = boost::json;

/// Writes each log record as one JSON object per line on stderr, with the
/// trace, span and actor the line is about as fields (cairn/log_context.hpp).
/// Called by spdlog under its mutex, on the thread that logged.
class json_log_sink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    json::object o;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    o["ts_ms"] = ms.count();
    o["level"] = std::string{spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size()};
    o["msg"] = std::string_view{msg.payload.data(), msg.payload.size()};
    const auto& ctx = current_log_context();
    if (!ctx.trace_id.empty())
      o["trace_id"] = ctx.trace_id;
    if (!ctx.span_id.empty())
      o["span_id"] = ctx.span_id;
    if (!ctx.actor.empty())
      o["actor"] = ctx.actor;
    auto line = json::serialize(o) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

/// `%&` in a text pattern: " trace_id=... span_id=... actor=..." for a line
/// about a message, nothing otherwise.
class context_flag final : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto& ctx = current_log_context();
    auto add = [&dest](std::string_view key, std::string_view value) {
      if (value.empty())
        return;
      dest.append(key.data(), key.data() + key.size());
      dest.append(value.data(), value.data() + value.size());
    };
    add(" trace_id=", ctx.trace_id);
    add(" span_id=", ctx.span_id);
    add(" actor=", ctx.actor);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<context_flag>();
  }
};

} // namespace

void install_logger(const node_settings& ns) {
  std::shared_ptr<spdlog::logger> logger;
  if (ns.log_format == "json")
    logger = std::make_shared<spdlog::logger>("cairn", std::make_shared<json_log_sink>());
  else {
    logger = spdlog::stderr_color_mt("cairn");
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<context_flag>('&').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v%&");
    logger->set_formatter(std::move(f));
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(ns.log_level));
}

struct progress_line::state {
  runtime_stats prev;
  std::chrono::steady_clock::time_point at;
};

progress_line::progress_line(const runtime_stats& s)
  : state_(std::make_unique<state>(state{s, std::chrono::steady_clock::now()})) {}

progress_line::~progress_line() = default;

void progress_line::print(const runtime_stats& s) {
  auto now = std::chrono::steady_clock::now();
  auto& prev = state_->prev;
  double secs = std::chrono::duration<double>(now - state_->at).count();
  auto rate = [&](uint64_t cur, uint64_t old) { return static_cast<double>(cur - old) / secs; };
  std::fprintf(stdout,
               "accepted %7.0f/s  processed %7.0f/s  retried %5.0f/s  dead-lettered %4.0f/s"
               "  | pending %llu  active %llu  timers %llu  dead total %llu\n",
               rate(s.accepted, prev.accepted), rate(s.processed, prev.processed),
               rate(s.retried, prev.retried), rate(s.dead_lettered, prev.dead_lettered),
               static_cast<unsigned long long>(s.pending),
               static_cast<unsigned long long>(s.active), static_cast<unsigned long long>(s.timers),
               static_cast<unsigned long long>(s.dead_letters));
  std::fflush(stdout);
  prev = s;
  state_->at = now;
}

} // namespace cairn::cli
