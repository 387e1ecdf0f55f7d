// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include <boost/json.hpp>

#include "cairn/actors/bench.hpp"
#include "cairn/json_codec.hpp"

namespace cairn::actors {

namespace {

constexpr uint64_t exact_below = 2048; // values below are their own bucket
constexpr int sub_bits = 10;           // 1024 buckets per power of two above

size_t index_of(uint64_t v) {
  if (v < exact_below)
    return static_cast<size_t>(v);
  int mag = 63 - __builtin_clzll(v);    // >= 11
  uint64_t top = v >> (mag - sub_bits); // in [1024, 2048)
  return static_cast<size_t>(exact_below + static_cast<uint64_t>(mag - 11) * (1u << sub_bits)
                             + (top - (1u << sub_bits)));
}

/// The highest value that falls into bucket `i`.
uint64_t high_of(size_t i) {
  if (i < exact_below)
    return i;
  uint64_t k = i - exact_below;
  int mag = 11 + static_cast<int>(k >> sub_bits);
  uint64_t top = (1u << sub_bits) + (k & ((1u << sub_bits) - 1));
  int shift = mag - sub_bits;
  return (top << shift) + ((uint64_t{1} << shift) - 1);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// The counts of one run, shared by its actors (on any CAF worker). Kept in
/// one of the registry's slots, which live as long as the process: a count
/// waiting for its step's commit names its slot and the slot's generation,
/// and needs no reference to keep it.
struct run_counts {
  std::mutex mu;
  uint64_t generation = 0;    ///< bumped when the slot is given to another run
  std::vector<uint64_t> seen; ///< one bit per message number
  bench_report report;
};

/// The runs counted lately: the 32 newest, each in a slot that is made once
/// and then passed on from the oldest run to a new one.
class registry {
public:
  static constexpr size_t slots = 32; // a count names its slot in five bits

  /// The slot counting `run` and its generation; with `create`, a new run
  /// takes the oldest run's slot once all are used. Null if not found.
  run_counts* find(const std::string& run, bool create, uint64_t* generation = nullptr,
                   size_t* index = nullptr) {
    std::lock_guard lock{mu_};
    size_t at = 0;
    if (auto it = runs_.find(run); it != runs_.end()) {
      at = it->second;
    } else if (!create) {
      return nullptr;
    } else {
      if (order_.size() >= slots) {
        at = runs_.at(order_.front());
        runs_.erase(order_.front());
        order_.pop_front();
      } else {
        at = order_.size();
      }
      auto& c = slot_[at];
      std::lock_guard slot_lock{c.mu};
      ++c.generation;
      c.seen = {};
      c.report = bench_report{};
      c.report.run = run;
      runs_[run] = at;
      order_.push_back(run);
    }
    if (generation != nullptr) {
      std::lock_guard slot_lock{slot_[at].mu};
      *generation = slot_[at].generation;
    }
    if (index != nullptr)
      *index = at;
    return &slot_[at];
  }

  /// Slot `i` (below `slots`).
  run_counts& slot(size_t i) noexcept { return slot_[i]; }

private:
  std::mutex mu_;
  std::array<run_counts, slots> slot_;
  std::map<std::string, size_t> runs_; ///< run -> its slot
  std::deque<std::string> order_;      ///< the runs, oldest first
};

registry& runs() {
  static registry r;
  return r;
}

/// Counts message `seq` of the run in `counts`, sent at `sent_us`, as handled
/// now; nothing if the slot went to another run meanwhile (`generation`).
void count(run_counts* counts, uint64_t generation, uint64_t seq, int64_t sent_us) {
  auto now = now_us();
  std::lock_guard lock{counts->mu};
  if (counts->generation != generation)
    return; // its run is no longer kept: 32 newer ones came
  auto& r = counts->report;
  // A run numbers at most 2^32 messages here (512 MiB of bits would be
  // the most); a larger number is counted, never checked for repeats.
  if (seq < (uint64_t{1} << 32)) {
    auto word = static_cast<size_t>(seq / 64);
    if (counts->seen.size() <= word)
      counts->seen.resize(std::max(word + 1, counts->seen.size() * 2));
    uint64_t bit = uint64_t{1} << (seq % 64);
    if (counts->seen[word] & bit)
      ++r.duplicates;
    counts->seen[word] |= bit;
  }
  if (r.received++ == 0)
    r.first_us = now;
  r.last_us = now;
  r.end_to_end_us.record(static_cast<uint64_t>(std::max<int64_t>(0, now - sent_us)));
}

/// `bench/<run>-<i>`: passes a message on to `bench/<run>-<i+1 mod actors>`
/// while it has hops left, else counts it once its step commits. Keeps no
/// state and journals nothing: one step is one mailbox row taken and, for
/// a hop, one written.
class bench_actor : public durable_actor {
public:
  explicit bench_actor(std::string_view id) {
    auto dash = id.rfind('-');
    if (dash != std::string_view::npos)
      index_ = std::strtoull(std::string{id.substr(dash + 1)}.c_str(), nullptr, 10);
  }

  caf::error handle(context& ctx, const envelope& env) override {
    // The message's fields read in place; its ballast is copied only when
    // the message is passed on.
    bench_head h;
    bench_msg whole; // read by the deserializer, if the bytes are not one whole message
    if (!read_bench_head(env.payload, h)) {
      auto read = decode<bench_msg>(env.payload); // says what is wrong
      if (!read)
        return std::move(read.error());
      whole = std::move(*read);
      h = bench_head{whole.run, whole.seq, whole.sent_us, whole.hops, whole.actors, whole.pad};
    }
    if (h.hops == 0)
      return count_once(ctx, h);
    bench_msg m;
    m.run.assign(h.run);
    m.seq = h.seq;
    m.sent_us = h.sent_us;
    m.hops = h.hops - 1;
    m.actors = h.actors;
    m.pad.assign(h.pad);
    auto next = (index_ + 1) % std::max<uint32_t>(1, m.actors);
    ctx.send("bench/" + m.run + "-" + std::to_string(next), m);
    return {};
  }

  caf::error apply(std::string_view, std::string_view) override { return {}; }

private:
  caf::error count_once(context& ctx, const bench_head& m) {
    // The run's slot, looked up once per run, not once per message.
    if (counts_ == nullptr || run_ != m.run) {
      run_.assign(m.run);
      counts_ = runs().find(run_, true, &generation_, &slot_);
    }
    // Two words, the slot, its generation and the message's number sharing
    // one while they fit: small enough for std::function to hold in place,
    // so a count costs no allocation here and no free on the commit thread.
    auto sent = m.sent_us;
    if (m.seq < (uint64_t{1} << 32) && generation_ < (uint64_t{1} << 27)) {
      uint64_t packed = generation_ << 37 | uint64_t{slot_} << 32 | m.seq;
      ctx.after_commit([packed, sent] {
        count(&runs().slot((packed >> 32) & 31), packed >> 37, packed & 0xffffffffU, sent);
      });
    } else {
      ctx.after_commit([counts = counts_, generation = generation_, seq = m.seq, sent] {
        count(counts, generation, seq, sent);
      });
    }
    return {};
  }

  uint64_t index_ = 0;
  std::string run_;              ///< the run whose slot `counts_` is
  run_counts* counts_ = nullptr; ///< a registry slot: lives as long as the process
  size_t slot_ = 0;              ///< its index
  uint64_t generation_ = 0;      ///< the slot's generation for `run_`
};

} // namespace

namespace {

/// A sequence's length as CAF 0.17's binary serializer writes it: seven
/// bits a byte, the lowest first, the high bit set on all but the last.
bool read_length(std::string_view bytes, size_t& at, size_t& out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (at >= bytes.size())
      return false;
    auto b = static_cast<uint8_t>(bytes[at++]);
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

/// An integer as that serializer writes it: its bytes in network order.
template <class T>
bool read_int(std::string_view bytes, size_t& at, T& out) {
  if (bytes.size() - at < sizeof(T))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v = v << 8 | static_cast<uint8_t>(bytes[at + i]);
  at += sizeof(T);
  out = static_cast<T>(v);
  return true;
}

} // namespace

bool read_bench_head(std::string_view bytes, bench_head& out) {
  size_t at = 0, run = 0, pad = 0;
  if (!read_length(bytes, at, run) || bytes.size() - at < run)
    return false;
  out.run = bytes.substr(at, run);
  at += run;
  if (!read_int(bytes, at, out.seq) || !read_int(bytes, at, out.sent_us)
      || !read_int(bytes, at, out.hops) || !read_int(bytes, at, out.actors)
      || !read_length(bytes, at, pad) || bytes.size() - at != pad)
    return false;
  out.pad = bytes.substr(at);
  return true;
}

void latency_histogram::record(uint64_t value, uint64_t n) {
  auto i = index_of(value);
  if (counts_.size() <= i)
    counts_.resize(i + 1);
  counts_[i] += n;
  count_ += n;
  max_ = std::max(max_, value);
}

void latency_histogram::merge(const latency_histogram& other) {
  if (counts_.size() < other.counts_.size())
    counts_.resize(other.counts_.size());
  for (size_t i = 0; i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t latency_histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<uint64_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_ - 1));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen > rank)
      return std::min(high_of(i), max_);
  }
  return max_;
}

std::vector<std::pair<uint64_t, uint64_t>> latency_histogram::buckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0)
      out.emplace_back(std::min(high_of(i), max_), counts_[i]);
  return out;
}

std::optional<bench_report> bench_report_of(const std::string& run) {
  uint64_t generation = 0;
  auto* counts = runs().find(run, false, &generation);
  if (counts == nullptr)
    return std::nullopt;
  std::lock_guard lock{counts->mu};
  if (counts->generation != generation)
    return std::nullopt; // given to a newer run meanwhile
  return counts->report;
}

std::string bench_report_json(const bench_report& r) {
  namespace json = boost::json;
  json::array buckets;
  for (const auto& [value, n] : r.end_to_end_us.buckets())
    buckets.push_back(json::array{value, n});
  return json::serialize(json::object{{"run", r.run},
                                      {"received", r.received},
                                      {"duplicates", r.duplicates},
                                      {"first_us", r.first_us},
                                      {"last_us", r.last_us},
                                      {"end_to_end_us", std::move(buckets)}});
}

std::optional<bench_report> parse_bench_report(const std::string& text) {
  namespace json = boost::json;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  const auto& o = v.as_object();
  bench_report r;
  try {
    r.run = json::value_to<std::string>(o.at("run"));
    r.received = json::value_to<uint64_t>(o.at("received"));
    r.duplicates = json::value_to<uint64_t>(o.at("duplicates"));
    r.first_us = json::value_to<int64_t>(o.at("first_us"));
    r.last_us = json::value_to<int64_t>(o.at("last_us"));
    for (const auto& b : o.at("end_to_end_us").as_array()) {
      const auto& pair = b.as_array();
      r.end_to_end_us.record(json::value_to<uint64_t>(pair.at(0)),
                             json::value_to<uint64_t>(pair.at(1)));
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
}

void register_bench_workload(runtime& rt) {
  kind_options ko;
  ko.accepts = {json::codec_for<bench_msg>()};
  rt.register_kind(
    "bench", [](std::string_view id) { return std::make_unique<bench_actor>(id); }, ko);
}

} // namespace cairn::actors
