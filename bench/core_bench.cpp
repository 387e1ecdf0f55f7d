// SPDX-License-Identifier: Apache-2.0
// The execution layer's benchmark: cairn against the physical limits of this
// machine, measured in one run at one message size.
//
//   (a) raw RocksDB enqueue -> read -> delete cycle, batched  (the floor under us)
//   (b) cairn durable end-to-end, os and fsync, 1/16/256 producers, p50/p99
//   (c) raw CAF in-memory 1 -> 1 throughput
//   (d) RSS after N distinct actors each got one message and were passivated
//   (e) recovery: start -> ready with N pending messages; journal replay speed
//
// Spans are recorded, as on every node, unless --spans off.
//
// Not a test: it asserts nothing. Run: cairn_core_bench [--scale 1.0] [--dir D]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <caf/all.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "internal/rocksdb_options.hpp"
#include "internal/span_codec.hpp"

using namespace cairn;
using clk = std::chrono::steady_clock;

namespace {

constexpr size_t msg_size = 256;
bool record_spans = true;                           // --spans off: what tracing costs
scheduling scheduler = runtime_options{}.scheduler; // --scheduler

struct blob {
  std::string bytes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blob& x) {
  return f(caf::meta::type_name("bench.blob"), x.bytes);
}

} // namespace

CAIRN_MESSAGE_TYPE(blob, "bench.blob/v1");

namespace {

double secs_since(clk::time_point t) {
  return std::chrono::duration<double>(clk::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

// -- (a) raw RocksDB cycle -------------------------------------------------------

double raw_rocksdb_cycle(const std::string& dir, bool sync, uint64_t total, size_t batch) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.IncreaseParallelism(2);
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, dir, &db).ok())
    return 0;
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::string value(msg_size, 'x');
  auto start = clk::now();
  uint64_t seq = 0;
  while (seq < total) {
    rocksdb::WriteBatch put;
    auto first = seq;
    for (size_t i = 0; i < batch; ++i, ++seq)
      put.Put(keys::actor_seq("q/1", seq), value).PermitUncheckedError();
    db->Write(wo, &put).PermitUncheckedError();
    rocksdb::WriteBatch del;
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{})};
    size_t n = 0;
    for (it->Seek(keys::actor_seq("q/1", first)); it->Valid() && n < batch; it->Next(), ++n)
      del.Delete(it->key()).PermitUncheckedError();
    db->Write(wo, &del).PermitUncheckedError();
  }
  auto rate = static_cast<double>(total) / secs_since(start);
  delete db;
  std::filesystem::remove_all(dir);
  return rate;
}

/// The storage work of (a) in the shape cairn's rows have, and nothing else:
/// each batch puts `batch` mailbox records (a real envelope, as `cairn bench`
/// sends it) to `actors` actors under their `bench/<run>-<i> \0 be64(seq)`
/// keys, then deletes them with the batch's span row (a member per step),
/// in cairn's own column families and options. No read: a running node hands
/// the record to its actor in memory. The floor for cairn's commit writer,
/// measured beside (a).
double cairn_rows_cycle(const std::string& dir, uint64_t total, size_t batch, size_t actors,
                        size_t& record_bytes, size_t& span_bytes) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  if (!internal::open_db(dir, false, db, cf).ok())
    return 0;
  auto family = [&](column c) { return cf[static_cast<size_t>(c)]; };
  std::vector<std::string> ids;
  for (size_t i = 0; i < actors; ++i)
    ids.push_back("bench/r1796331110560944p3618-" + std::to_string(i));
  envelope env;
  env.id = next_envelope_id();
  env.to = ids[0];
  env.type = "bench.msg/v1";
  env.payload = R"({"run":"r1796331110560944p3618","seq":123456,"sent_us":1796331110560944,)"
                R"("hops":0,"pad":")"
                + std::string(msg_size, 'x') + R"("})";
  env.traceparent = format_traceparent(new_trace());
  env.created_ms = 1796331110560;
  auto record = encode(internal::mailbox_record{env, {}, {}});
  record_bytes = record.size();
  std::string_view trace_id, parent;
  traceparent_ids(env.traceparent, trace_id, parent);
  auto span_id = step_span_id(env.id, 0);
  std::vector<internal::sent_view> none;
  internal::step_span_view v;
  v.trace_id = trace_id;
  v.span_id = span_id;
  v.parent_span_id = parent;
  v.actor = ids[0];
  v.type = env.type;
  v.envelope_id = env.id;
  v.start_us = 1796331110560944;
  v.end_us = v.start_us + 40;
  v.sent = &none;
  std::string one;
  internal::append_step_span_member(one, v);
  span_bytes = one.size();
  rocksdb::WriteOptions wo;
  std::vector<uint64_t> next(actors, 0);
  auto start = clk::now();
  uint64_t done = 0;
  std::vector<std::string> keys;
  while (done < total) {
    rocksdb::WriteBatch put;
    keys.clear();
    for (size_t i = 0; i < batch; ++i) {
      auto a = (done + i) % actors;
      keys.push_back(keys::actor_seq(ids[a], next[a]++));
      put.Put(family(column::mailbox), keys.back(), record).PermitUncheckedError();
    }
    db->Write(wo, &put).PermitUncheckedError();
    rocksdb::WriteBatch del;
    std::string spans(1, static_cast<char>(internal::span_group_format));
    for (auto& k : keys) {
      del.Delete(family(column::mailbox), k).PermitUncheckedError();
      spans += one;
    }
    del.Put(family(column::trace), keys::span(v.end_us + done, trace_id, span_id), spans)
      .PermitUncheckedError();
    db->Write(wo, &del).PermitUncheckedError();
    done += batch;
  }
  auto rate = static_cast<double>(total) / secs_since(start);
  for (auto* h : cf)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db;
  std::filesystem::remove_all(dir);
  return rate;
}

// -- (b) cairn end to end -------------------------------------------------------------

/// The benchmark's actor: handles a blob and journals nothing (pure step cost:
/// message removal + span in one commit).
class sink : public stateful_actor<uint64_t> {
public:
  sink() {
    on<blob>([](context&, const blob&) { return caf::error{}; });
  }
  // Section (e) replays a journal of raw `bench.ev/v1` events: counted, not decoded.
  caf::error apply(std::string_view, std::string_view) override {
    ++state;
    return {};
  }
};

struct e2e_result {
  double rate = 0;
  double accept_p50_ms = 0, accept_p99_ms = 0;
  double done_p50_ms = 0, done_p99_ms = 0;
  double batch = 0;
};

std::unique_ptr<runtime> open_runtime(const std::string& dir, durability mode,
                                      std::chrono::milliseconds idle = std::chrono::seconds{30},
                                      size_t max_active = 200'000) {
  runtime_options o;
  o.data_dir = dir;
  o.mode = mode;
  o.max_pending = 2'000'000;
  o.max_active = max_active;
  o.record_spans = record_spans;
  o.scheduler = scheduler;
  auto rt = runtime::open(o);
  if (!rt) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), render(rt.error()).c_str());
    std::exit(1);
  }
  kind_options ko;
  ko.idle_timeout = idle;
  (*rt)->register_kind(
    "sink", [](std::string_view) { return std::make_unique<sink>(); }, ko);
  return std::move(*rt);
}

e2e_result cairn_e2e(const std::string& dir, durability mode, size_t producers, uint64_t total) {
  std::filesystem::remove_all(dir);
  auto rt = open_runtime(dir, mode);
  if (rt->start())
    std::exit(1);
  blob payload{std::string(msg_size, 'x')};
  auto encoded = encode(payload);
  std::vector<std::vector<double>> lat(producers);
  std::atomic<uint64_t> next{0};
  auto start = clk::now();
  std::vector<std::thread> threads;
  // Each producer keeps one accept in flight (a closed loop), spread over 256 actors.
  for (size_t p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      auto& mine = lat[p];
      for (;;) {
        auto i = next.fetch_add(1);
        if (i >= total)
          break;
        envelope env;
        env.to = "sink/" + std::to_string(i % 256);
        env.type = type_tag<blob>::value;
        env.payload = encoded;
        auto t0 = clk::now();
        auto r = rt->accept(std::move(env));
        mine.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
        if (!r)
          std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
    });
  for (auto& t : threads)
    t.join();
  while (rt->stats().processed < total)
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  e2e_result res;
  res.rate = static_cast<double>(total) / secs_since(start);
  std::vector<double> all;
  for (auto& v : lat)
    all.insert(all.end(), v.begin(), v.end());
  res.accept_p50_ms = percentile(all, 0.50);
  res.accept_p99_ms = percentile(all, 0.99);
  auto s = rt->stats();
  res.batch = s.commits ? static_cast<double>(s.commit_ops) / static_cast<double>(s.commits) : 0;
  rt.reset();
  std::filesystem::remove_all(dir);
  return res;
}

// -- (c) raw CAF ------------------------------------------------------------------------

double raw_caf(uint64_t total) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  std::atomic<uint64_t> got{0};
  auto counter = sys.spawn([&](caf::event_based_actor*) -> caf::behavior {
    return {[&](const std::string&) { got.fetch_add(1, std::memory_order_relaxed); }};
  });
  std::string payload(msg_size, 'x');
  auto start = clk::now();
  for (uint64_t i = 0; i < total; ++i)
    caf::anon_send(counter, payload);
  while (got.load() < total)
    std::this_thread::yield();
  auto rate = static_cast<double>(total) / secs_since(start);
  caf::anon_send_exit(counter, caf::exit_reason::user_shutdown);
  return rate;
}

// -- (d) memory after many passivated actors ---------------------------------------------

/// Accepts `count` blobs from 16 threads, message `i` to `target(i)`,
/// retrying while the node is busy.
void flood(runtime& rt, uint64_t count, const std::function<std::string(uint64_t)>& target) {
  auto encoded = encode(blob{std::string(msg_size, 'x')});
  std::vector<std::thread> threads;
  std::atomic<uint64_t> next{0};
  for (int p = 0; p < 16; ++p)
    threads.emplace_back([&] {
      for (;;) {
        auto i = next.fetch_add(1);
        if (i >= count)
          break;
        envelope env;
        env.to = target(i);
        env.type = type_tag<blob>::value;
        env.payload = encoded;
        while (!rt.accept(env))
          std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
    });
  for (auto& t : threads)
    t.join();
}

struct memory_result {
  long before_kib = 0, after_kib = 0;
  uint64_t memtables = 0; // bytes in RocksDB's memtables at the end (part of `after`)
};

memory_result passivated_memory(const std::string& dir, uint64_t actors) {
  std::filesystem::remove_all(dir);
  auto rt = open_runtime(dir, durability::os, std::chrono::milliseconds{200});
  if (rt->start())
    std::exit(1);
  auto before = rss_kib();
  // A run past 30 s says where it stands (on stderr, every 10 s), so one that
  // does not end shows why.
  std::atomic<bool> done{false};
  std::thread watch{[&] {
    auto start = clk::now();
    auto next_line = start + std::chrono::seconds{30};
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
      if (clk::now() < next_line)
        continue;
      next_line += std::chrono::seconds{10};
      auto st = rt->stats();
      std::fprintf(
        stderr,
        "(d) after %.0f s: %llu accepted, %llu busy, %llu passivated of %llu; %llu "
        "active, %llu activations, %llu pending, %llu processed\n",
        secs_since(start), static_cast<unsigned long long>(st.accepted),
        static_cast<unsigned long long>(st.busy), static_cast<unsigned long long>(st.passivations),
        static_cast<unsigned long long>(actors), static_cast<unsigned long long>(st.active),
        static_cast<unsigned long long>(st.activations),
        static_cast<unsigned long long>(st.pending), static_cast<unsigned long long>(st.processed));
      for (const auto& [name, value] : rt->store().properties())
        std::fprintf(stderr, "    %s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
    }
  }};
  flood(*rt, actors, [](uint64_t i) { return "sink/a" + std::to_string(i); });
  while (rt->stats().passivations < actors)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  done = true;
  watch.join();
  // Give the runtime's once-a-second memory return a chance to run.
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  memory_result m{before, rss_kib(), 0};
  for (const auto& [name, value] : rt->store().properties())
    if (name == "rocksdb.cur-size-all-mem-tables")
      m.memtables = value;
  rt.reset();
  std::filesystem::remove_all(dir);
  return m;
}

// -- (e) recovery --------------------------------------------------------------------------

struct recovery_result {
  double ready_s = 0;
  double drain_rate = 0;
  double replay_rate = 0;
};

recovery_result recovery(const std::string& dir, uint64_t pending, uint64_t events) {
  std::filesystem::remove_all(dir);
  recovery_result res;
  auto encoded = encode(blob{std::string(msg_size, 'x')});
  {
    // Fill mailboxes with nothing running (no activation may start), plus one
    // long journal to replay.
    auto rt = open_runtime(dir, durability::os, std::chrono::seconds{30}, 0);
    if (rt->start())
      std::exit(1);
    flood(*rt, pending, [](uint64_t i) { return "sink/r" + std::to_string(i % 1000); });
    write_set ws;
    for (uint64_t s = 1; s <= events; ++s) {
      ws.put(column::journal, keys::actor_seq("sink/replay", s),
             encode(internal::journal_record{"bench.ev/v1", "e", 0, "", ""}));
      if (ws.size() == 10'000) {
        ignore_error(rt->store().write(ws, false));
        ws.clear();
      }
    }
    ignore_error(rt->store().write(ws, false));
  }
  auto t0 = clk::now();
  auto rt = open_runtime(dir, durability::os);
  if (rt->start())
    std::exit(1);
  res.ready_s = secs_since(t0);
  auto t1 = clk::now();
  while (rt->stats().processed < pending)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  res.drain_rate = static_cast<double>(pending) / secs_since(t1);
  auto t2 = clk::now();
  envelope env;
  env.to = "sink/replay";
  env.type = type_tag<blob>::value;
  env.payload = encoded;
  (void)rt->accept(env);
  while (rt->stats().processed < pending + 1)
    std::this_thread::sleep_for(std::chrono::microseconds{100});
  res.replay_rate = static_cast<double>(events) / secs_since(t2);
  rt.reset();
  std::filesystem::remove_all(dir);
  return res;
}

} // namespace

int main(int argc, char** argv) {
  double scale = 1.0;
  std::string dir = "bench-data";
  std::string only = "abcdef"; // sections to run
  auto usage = [&](std::FILE* to) {
    std::fprintf(to,
                 "usage: %s [--scale X] [--dir D] [--only SECTIONS] [--spans on|off]\n"
                 "       [--scheduler sharing|stealing]\n"
                 "  --scale X        multiply every message count by X (default 1.0)\n"
                 "  --dir D          data directory, removed afterwards (default bench-data)\n"
                 "  --only SECTIONS  run only these sections of abcdef (default abcdef):\n"
                 "                   a raw RocksDB cycle, b cairn end to end, c CAF in memory,\n"
                 "                   d memory of passivated actors, e recovery,\n"
                 "                   f spans on vs off (tracing's cost), whatever --spans says\n"
                 "  --spans on|off   record a span per step, as a node does (default on)\n"
                 "  --scheduler P    the scheduler's policy, sharing or stealing (default: the\n"
                 "                   runtime's, sharing)\n",
                 argv[0]);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    bool known =
      a == "--scale" || a == "--dir" || a == "--only" || a == "--spans" || a == "--scheduler";
    if (!known || i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s\n", argv[0],
                   known ? ("missing value after " + a).c_str()
                         : ("unknown argument '" + a + "'").c_str());
      usage(stderr);
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--scale") {
      char* end = nullptr;
      scale = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(scale > 0)) {
        std::fprintf(stderr, "%s: --scale must be a positive number, not '%s'\n", argv[0],
                     v.c_str());
        return 2;
      }
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--spans") {
      if (v != "on" && v != "off") {
        std::fprintf(stderr, "%s: --spans must be on or off, not '%s'\n", argv[0], v.c_str());
        return 2;
      }
      record_spans = v == "on";
    } else if (a == "--scheduler") {
      auto named = scheduling_named(v);
      if (!named) {
        std::fprintf(stderr, "%s: --scheduler must be sharing or stealing, not '%s'\n", argv[0],
                     v.c_str());
        return 2;
      }
      scheduler = *named;
    } else {
      only = v;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  auto n = [&](double x) { return static_cast<uint64_t>(x * scale); };
  std::printf(
    "cairn core benchmark — message size %zu B, scale %.2f, %u cores, spans %s, scheduler %s\n\n",
    msg_size, scale, std::thread::hardware_concurrency(), record_spans ? "on" : "off",
    name_of(scheduler));

  auto want = [&](char c) { return only.find(c) != std::string::npos; };
  // (a) is the baseline of (b)'s ratios, so (b) runs it too.
  double raw_os = 0, raw_os512 = 0, raw_sync = 0;
  if (want('a') || want('b')) {
    raw_os = raw_rocksdb_cycle(dir + "/raw", false, n(2'000'000), 64);
    raw_os512 = raw_rocksdb_cycle(dir + "/raw", false, n(2'000'000), 512);
    raw_sync = raw_rocksdb_cycle(dir + "/raw", true, n(500'000), 512);
    std::printf("(a) raw RocksDB enqueue->read->delete cycle\n");
    std::printf("    batch 64,  no sync : %10.0f msgs/s\n", raw_os);
    std::printf("    batch 512, no sync : %10.0f msgs/s\n", raw_os512);
    std::printf("    batch 512, sync    : %10.0f msgs/s\n", raw_sync);
    size_t record = 0, span = 0;
    auto rows = cairn_rows_cycle(dir + "/rows", n(2'000'000), 64, 64, record, span);
    std::printf("    batch 64,  no sync, cairn's rows (64 actors, %zu-byte records, %zu-byte span"
                " members, no read): %.0f msgs/s (%.2fx)\n\n",
                record, span, rows, raw_os > 0 ? rows / raw_os : 0.0);
  }
  if (want('b')) {

    std::printf("(b) cairn durable end-to-end (accepted -> handled -> committed), 256 actors\n");
    std::printf("    %-6s %9s %12s %10s %10s %9s %9s\n", "mode", "producers", "msgs/s",
                "accept p50", "accept p99", "batch", "vs raw");
    for (auto mode : {durability::os, durability::fsync}) {
      for (size_t producers : {1, 16, 256}) {
        uint64_t total = mode == durability::os ? n(producers == 1 ? 50'000 : 400'000)
                                                : n(producers == 1 ? 5'000 : 200'000);
        auto r = cairn_e2e(dir + "/e2e", mode, producers, total);
        auto base = mode == durability::os ? raw_os : raw_sync;
        std::printf("    %-6s %9zu %12.0f %8.3fms %8.3fms %9.1f %8.2fx\n", name_of(mode), producers,
                    r.rate, r.accept_p50_ms, r.accept_p99_ms, r.batch, r.rate / base);
      }
    }
    std::printf("\n");
  }
  if (want('f')) {
    // What tracing costs: the same runs with spans on and off, alternating
    // (so drift on the machine hits both). Each round's pair gives a ratio;
    // the row shows the medians of the rates and of the rounds' ratios.
    constexpr int rounds = 5;
    std::printf("(f) tracing's cost: spans on vs off in this run, 256 producers, alternating, "
                "%d rounds\n",
                rounds);
    std::printf("    %-6s %12s %12s %9s   %-40s %s\n", "mode", "spans on", "spans off", "on/off",
                "each round's on/off", "CPU per message, on/off");
    auto keep = record_spans;
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    for (auto mode : {durability::os, durability::fsync}) {
      std::vector<double> on, off, ratio, cpu_on, cpu_off;
      uint64_t total = mode == durability::os ? n(400'000) : n(200'000);
      // The process's CPU time (every thread's) per message: steadier than
      // the rate on a shared machine, and what spans add to each message.
      auto cpu_s = [] {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
               + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
      };
      for (int round = 0; round < rounds; ++round) {
        for (bool spans : {true, false}) {
          record_spans = spans;
          auto before = cpu_s();
          (spans ? on : off).push_back(cairn_e2e(dir + "/e2e", mode, 256, total).rate);
          (spans ? cpu_on : cpu_off)
            .push_back((cpu_s() - before) * 1e6 / static_cast<double>(total));
        }
        ratio.push_back(on.back() / off.back());
      }
      std::string each;
      for (auto r : ratio)
        each += fmt::format("{}{:.2f}", each.empty() ? "" : " ", r);
      each += fmt::format(" (median {:.2f})", median(ratio));
      std::printf("    %-6s %12.0f %12.0f %8.2fx   %-40s %.1f / %.1f us (%+.0f %%)\n",
                  name_of(mode), median(on), median(off), median(on) / median(off), each.c_str(),
                  median(cpu_on), median(cpu_off), (median(cpu_on) / median(cpu_off) - 1) * 100);
    }
    record_spans = keep;
    std::printf("\n");
  }
  if (want('c')) {
    auto caf_rate = raw_caf(n(5'000'000));
    std::printf("(c) raw CAF in-memory 1 -> 1        : %10.0f msgs/s\n\n", caf_rate);
  }
  if (want('d')) {
    auto actors = n(1'000'000);
    auto m = passivated_memory(dir + "/mem", actors);
    std::printf("(d) RSS before %ld MiB, after %llu actors got one message and were passivated: "
                "%ld MiB (RocksDB memtables: %llu MiB of it)\n\n",
                m.before_kib / 1024, static_cast<unsigned long long>(actors), m.after_kib / 1024,
                static_cast<unsigned long long>(m.memtables >> 20));
  }
  if (want('e')) {
    auto rec = recovery(dir + "/rec", n(1'000'000), n(1'000'000));
    std::printf(
      "(e) recovery with %llu pending messages: ready in %.3f s, drained at %.0f msgs/s\n",
      static_cast<unsigned long long>(n(1'000'000)), rec.ready_s, rec.drain_rate);
    std::printf("    journal replay of %llu events: %.0f events/s\n",
                static_cast<unsigned long long>(n(1'000'000)), rec.replay_rate);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
