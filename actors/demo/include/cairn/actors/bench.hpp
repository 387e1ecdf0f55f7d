// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "cairn/runtime.hpp"

// The workload of `cairn bench`: `bench/<run>-<i>` actors take numbered
// messages, pass each on `hops` times around the run's ring of actors, and
// count it when the last step that handled it has committed (its ack).
namespace cairn::actors {

/// One message of a bench run.
struct bench_msg {
  std::string run;     ///< the run's id (names its actors and its counters)
  uint64_t seq = 0;    ///< the message's number in the run, from 0
  int64_t sent_us = 0; ///< when the producer built it (system clock, microseconds)
  uint32_t hops = 0;   ///< sends still to make after this one
  uint32_t actors = 1; ///< actors in the run's ring (`bench/<run>-0` ...)
  std::string pad;     ///< ballast up to the message size asked for
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bench_msg& x) {
  return f(caf::meta::type_name("bench.msg"), field{"run"}, x.run, field{"seq"}, x.seq,
           field{"sent_us"}, x.sent_us, field{"hops"}, x.hops, field{"actors"}, x.actors,
           field{"pad"}, x.pad);
}

/// A bench message's fields read in place from its encoding
/// (`encode(bench_msg)`): the views point into the bytes read.
struct bench_head {
  std::string_view run; ///< the run's id, as in `bench_msg`
  uint64_t seq = 0;     ///< the message's number in the run
  int64_t sent_us = 0;  ///< when the producer built it (system clock, microseconds)
  uint32_t hops = 0;    ///< sends still to make after this one
  uint32_t actors = 1;  ///< actors in the run's ring
  std::string_view pad; ///< the ballast's bytes
};

/// Reads `bytes` as `encode(bench_msg)` writes them, without a copy or a
/// deserializer: each step of a bench run reads one. False if they are not
/// exactly one whole message.
bool read_bench_head(std::string_view bytes, bench_head& out);

/// A log-linear histogram of non-negative integers (HDR-style): values
/// below 2048 are exact, larger ones fall into buckets 1/1024 of their
/// magnitude wide, so every quantile is within 0.1 % (three significant
/// digits). A plain value; not thread-safe.
class latency_histogram {
public:
  /// Counts `value` `n` times.
  void record(uint64_t value, uint64_t n = 1);
  /// Adds every count of `other` to this histogram.
  void merge(const latency_histogram& other);
  /// Values recorded, in all.
  uint64_t count() const noexcept { return count_; }
  /// The largest value recorded, exactly (0 when empty).
  uint64_t max() const noexcept { return max_; }
  /// The value at quantile `q` (0..1): the highest value of its bucket; 0
  /// when empty.
  uint64_t quantile(double q) const;
  /// Every bucket that holds values: (its highest value, count), ascending.
  std::vector<std::pair<uint64_t, uint64_t>> buckets() const;

private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

/// What the actors of one run counted so far.
struct bench_report {
  std::string run;                 ///< the run's id
  uint64_t received = 0;           ///< messages whose last step committed
  uint64_t duplicates = 0;         ///< of those, numbers counted before (a message handled twice)
  int64_t first_us = 0;            ///< system clock at the first count (Unix microseconds)
  int64_t last_us = 0;             ///< system clock at the latest count (Unix microseconds)
  latency_histogram end_to_end_us; ///< from `sent_us` to the commit of the last step
};

/// The report of run `run` in this process, if any of its messages arrived.
/// The last 32 runs are kept.
std::optional<bench_report> bench_report_of(const std::string& run);

/// The report as JSON text (what `GET /api/v1/bench/{run}` answers), and
/// back; nullopt if the text is not one.
std::string bench_report_json(const bench_report& r);
std::optional<bench_report> parse_bench_report(const std::string& text);

/// Registers kind `bench` on `rt` (messages of type `bench.msg/v1`, also as
/// JSON from outside).
void register_bench_workload(runtime& rt);

} // namespace cairn::actors

CAIRN_MESSAGE_TYPE(cairn::actors::bench_msg, "bench.msg/v1");
