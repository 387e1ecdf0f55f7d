// SPDX-License-Identifier: Apache-2.0
// `cairn bench` from the user's side: every message it sends is accounted
// for (checked against the node's own counters, not only the bench's), in
// each of its modes, and it fails loudly when messages go missing.
#include <cstdio>
#include <optional>
#include <random>
#include <regex>

#include <sys/wait.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/bench.hpp"
#include "cairn/storage.hpp"
#include "http_client.hpp"
#include "internal/span_codec.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

struct cli_result {
  int code;
  std::string out;
};

cli_result cairn_cli(std::vector<std::string> args) {
  test::node_process p{std::move(args)};
  int code = p.wait(std::chrono::seconds{120});
  return {code, p.output()};
}

/// The one JSON line of a `--json` run.
json::object report_of(const std::string& out) {
  auto at = out.find("{\"run\"");
  REQUIRE(at != std::string::npos);
  return json::parse(out.substr(at, out.find('\n', at) - at)).as_object();
}

uint64_t num(const json::object& o, const char* name) {
  return o.at(name).to_number<uint64_t>();
}

/// Rows of `cf` in the data directory `dir` (opened read-only).
size_t rows_in(const std::string& dir, column cf) {
  auto st = open_rocksdb(storage_options{dir, true});
  REQUIRE(st);
  size_t n = 0;
  REQUIRE_FALSE((*st)->scan(cf, "", "", [&](auto, auto) {
    ++n;
    return true;
  }));
  return n;
}

/// The spans stored in `dir` (a `trace` row holds those of one commit).
size_t spans_in(const std::string& dir) {
  auto st = open_rocksdb(storage_options{dir, true});
  REQUIRE(st);
  size_t n = 0;
  REQUIRE_FALSE((*st)->scan(column::trace, "", "", [&](std::string_view k, std::string_view v) {
    CHECK(internal::for_each_span(k, v, [&](auto, auto) { ++n; }));
    return true;
  }));
  return n;
}

/// The report says each of the `n` messages sent was handled, once.
void check_each_handled_once(const json::object& o, uint64_t n) {
  CHECK(num(o, "handled") == n);
  CHECK(num(o, "duplicates") == 0);
  CHECK(num(o, "missing") == 0);
}

/// The value of the metric line `series` (name and labels, as a regex) of
/// the node on `port`; none when the node does not print it.
std::optional<uint64_t> metric_value(uint16_t port, const std::string& series) {
  auto m = test::http_call(port, "GET", "/metrics").body;
  std::smatch match;
  if (!std::regex_search(m, match, std::regex{series + R"re( (\d+))re"}))
    return std::nullopt;
  return std::stoull(match[1]);
}

/// `cairn_kind_processed_total{kind="bench"}` of the node on `port`.
uint64_t bench_steps(uint16_t port) {
  return metric_value(port, R"re(cairn_kind_processed_total\{kind="bench"\})re").value_or(0);
}

struct node_fixture {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> node;
  uint16_t port = 0;
  std::string url;

  explicit node_fixture(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"node",        "--data",        dir.sub("data"), "--http",
                                  "127.0.0.1:0", "--no-progress", "--log-level",   "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    node = std::make_unique<test::node_process>(args);
    REQUIRE(node->wait_for_output("cairn node ready"));
    port = test::port_from_banner(node->output());
    url = "http://127.0.0.1:" + std::to_string(port);
  }

  cli_result bench(std::vector<std::string> args) {
    args.insert(args.begin(), "bench");
    args.insert(args.end(), {"--node", url});
    return cairn_cli(std::move(args));
  }
};

} // namespace

TEST_CASE("cairn bench over HTTP batches accounts for every message: each handled once, "
          "through every hop",
          "[bench][cli]") {
  node_fixture f;
  auto before = bench_steps(f.port);
  auto r = f.bench({"--messages", "3000", "--batch", "50", "--producers", "3", "--actors", "16",
                    "--hops", "2", "--size", "300", "--json", "--quiet"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto o = report_of(r.out);
  CHECK(num(o, "sent") == 3000);
  CHECK(num(o, "accepted") == 3000);
  check_each_handled_once(o, 3000);
  CHECK(num(o.at("accept_latency_ms").as_object(), "count") == 3000);
  CHECK(num(o.at("end_to_end_latency_ms").as_object(), "count") == 3000);
  CHECK(num(o, "storage_writes") > 0);
  // What the run put in the node's log: every step writes at least its span.
  CHECK(num(o, "log_bytes") > 0);
  CHECK(o.at("log_bytes_per_message").to_number<double>()
        == Approx(static_cast<double>(num(o, "log_bytes")) / 3000).margin(0.05));
  // The node's own count: three steps per message (the delivery and two hops).
  CHECK(bench_steps(f.port) - before == 9000);
  // The run's counts as the node reports them.
  auto run = std::string{o.at("run").as_string()};
  auto counted =
    actors::parse_bench_report(test::http_call(f.port, "GET", "/api/v1/bench/" + run).body);
  REQUIRE(counted);
  CHECK(counted->received == 3000);
  CHECK(counted->end_to_end_us.count() == 3000);
  CHECK(test::http_call(f.port, "GET", "/api/v1/bench/no-such-run").status == 404);
}

TEST_CASE("cairn bench over HTTP batches sends again what a node at its pending cap answers busy, "
          "and every message is still handled once",
          "[bench][cli]") {
  // A cap of one batch: a batch is taken only when nothing is pending, so
  // while one producer's batch waits for its steps the other three are
  // answered 429 (they all start at once: their first batches meet).
  node_fixture f{{"--max-pending", "40"}};
  auto r = f.bench({"--messages", "1200", "--batch", "40", "--producers", "4", "--actors", "2",
                    "--hops", "1", "--json", "--quiet"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto o = report_of(r.out);
  INFO("busy retries: " << num(o, "busy_retries"));
  CHECK(num(o, "sent") == 1200);
  CHECK(num(o, "accepted") == 1200);
  CHECK(num(o, "refused") == 0);
  check_each_handled_once(o, 1200);
  // The node refused some, and counted each refusal.
  CHECK(metric_value(f.port, "cairn_busy_total").value_or(0) > 0);
}

/// `cairn_mailbox_rows_read_total` of the node on `port`.
uint64_t rows_read(uint16_t port) {
  auto n = metric_value(port, "cairn_mailbox_rows_read_total");
  REQUIRE(n);
  return *n;
}

TEST_CASE("bursts to one actor past its --activation-window wait in storage and are read back, "
          "within it they are not, and every message is handled once either way",
          "[bench][cli][window]") {
  // One producer, batches of 400 to one actor: one batch in flight at a
  // time, far fewer rows than the default window of 2,048, far more than 8.
  auto [window, read_back] = GENERATE(table<std::string, bool>({{"8", true}, {"2048", false}}));
  INFO("--activation-window " << window);
  node_fixture f{{"--activation-window", window}};
  auto r = f.bench({"--messages", "4000", "--batch", "400", "--producers", "1", "--actors", "1",
                    "--json", "--quiet"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto o = report_of(r.out);
  check_each_handled_once(o, 4000);
  // The node's counter, and the report's count over the run. Past a window
  // of 8, at least 392 rows of each batch of 400 wait in storage. Within the
  // default one, the actor reads storage only as it starts (what its first
  // rows left there, at most one read of 512 rows), never again.
  if (read_back) {
    CHECK(rows_read(f.port) >= 1000);
    CHECK(num(o, "rows_read_back") >= 1000);
  } else {
    CHECK(rows_read(f.port) <= 512);
    CHECK(num(o, "rows_read_back") <= 512);
  }
}

TEST_CASE("cairn bench sends one message per request and prints its table", "[bench][cli]") {
  node_fixture f;
  auto before = bench_steps(f.port);
  auto r = f.bench({"--messages", "800", "--producers", "2", "--actors", "4"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("800 accepted, 0 refused") != std::string::npos);
  CHECK(r.out.find("800 handled, 0 duplicates, 0 missing") != std::string::npos);
  CHECK(r.out.find("one message per request") != std::string::npos);
  CHECK(r.out.find("end to end") != std::string::npos);
  CHECK(r.out.find("us per message on the node") != std::string::npos);
  CHECK(r.out.find(" B a message") != std::string::npos); // the node's log bytes
  CHECK(bench_steps(f.port) - before == 800);
}

TEST_CASE("cairn bench --embedded runs its own node and accounts for every message",
          "[bench][cli]") {
  test::temp_dir dir;
  for (std::string batch : {"1", "40"}) {
    // Quiet (the second run), the node's own info lines are left out too.
    bool quiet = batch == "40";
    std::vector<std::string> args{
      "bench", "--embedded", "--data", dir.sub("data" + batch), "--messages", "1200",  "--batch",
      batch,   "--hops",     "1",      "--durability",          "fsync",      "--json"};
    if (quiet)
      args.emplace_back("--quiet");
    auto r = cairn_cli(args);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK((r.out.find("runtime ready") == std::string::npos) == quiet);
    auto o = report_of(r.out);
    CHECK(o.at("durability").as_string() == "fsync");
    CHECK(num(o, "accepted") == 1200);
    CHECK(num(o, "handled") == 1200);
    CHECK(num(o, "duplicates") == 0);
    CHECK(num(o, "log_bytes") > 0);
    // A node records a span per step: 1200 messages, each handled twice.
    CHECK(spans_in(dir.sub("data" + batch)) == 2400);
    // Where the CPU went, by thread, most first: the commit thread and the
    // producers among them, adding up to no more than the process's figure.
    const auto& threads = o.at("cpu_us_per_message_by_thread").as_object();
    REQUIRE(threads.contains("cairn.commit"));
    REQUIRE(threads.contains("cairn.producer"));
    CHECK(threads.at("cairn.commit").to_number<double>() > 0);
    CHECK(threads.at("cairn.producer").to_number<double>() > 0);
    double sum = 0, last = 1e18;
    for (const auto& [name, us] : threads) {
      INFO(name);
      CHECK(us.to_number<double>() <= last);
      last = us.to_number<double>();
      sum += last;
    }
    double process = o.at("cpu_us_per_message").as_object().at("process").to_number<double>();
    CHECK(sum <= process * 1.05 + 0.1 * static_cast<double>(threads.size()));
  }
  // --no-spans: the same work and nothing in `trace` (what tracing costs is
  // measured this way).
  auto r = cairn_cli({"bench", "--embedded", "--no-spans", "--data", dir.sub("nospans"),
                      "--messages", "300", "--batch", "30", "--json", "--quiet"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto o = report_of(r.out);
  CHECK(num(o, "handled") == 300);
  CHECK(o.at("target").as_string().find("no spans") != std::string::npos);
  CHECK(rows_in(dir.sub("nospans"), column::trace) == 0);
  CHECK(rows_in(dir.sub("nospans"), column::trace_index) == 0);
}

TEST_CASE("cairn bench --embedded --json writes its report alone to stdout, and every message "
          "is handled under either scheduler policy",
          "[bench][cli]") {
  test::temp_dir dir;
  for (std::string policy : {"sharing", "stealing"}) {
    // stdout alone (stderr dropped): the embedded node's log lines must not
    // land in it, or the report is no longer JSON a script can parse.
    std::string cmd = std::string{CAIRN_TEST_NODE} + " bench --embedded --data "
                      + dir.sub("data-" + policy) + " --scheduler " + policy
                      + " --messages 500 --batch 25 --actors 8 --json --quiet 2>/dev/null";
    auto* pipe = ::popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
      out.append(buf, n);
    int status = ::pclose(pipe);
    INFO(policy << ": " << out);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(!out.empty());
    CHECK(out.find('\n') == out.size() - 1); // one line
    boost::system::error_code ec;
    auto v = json::parse(out, ec);
    REQUIRE_FALSE(ec);
    CHECK(num(v.as_object(), "accepted") == 500);
    CHECK(num(v.as_object(), "handled") == 500);
    CHECK(num(v.as_object(), "missing") == 0);
  }
  // An unknown policy is refused before anything runs.
  auto r = cairn_cli({"bench", "--embedded", "--scheduler", "round-robin", "--messages", "1"});
  CHECK(r.code != 0);
  CHECK(r.out.find("--scheduler") != std::string::npos);
  // The embedded node's settings without --embedded are refused, not ignored.
  for (std::vector<std::string> extra : {std::vector<std::string>{"--scheduler", "stealing"},
                                         {"--threads", "2"},
                                         {"--data", dir.sub("unused")}}) {
    std::vector<std::string> args{"bench", "--messages", "1", "--node", "http://127.0.0.1:9"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto refused = cairn_cli(args);
    INFO(refused.out);
    CHECK(refused.code == 2);
    CHECK(refused.out.find(extra[0] + " sets the embedded node's; add --embedded")
          != std::string::npos);
  }
}

TEST_CASE("cairn bench fails when accepted messages are not handled, and says how many",
          "[bench][cli][errors]") {
  // Nothing runs (max-active 0): every message stays in its mailbox.
  node_fixture f{{"--max-active", "0"}};
  auto r =
    f.bench({"--messages", "200", "--batch", "20", "--drain-timeout", "1", "--json", "--quiet"});
  INFO(r.out);
  CHECK(r.code == 1);
  auto o = report_of(r.out);
  CHECK(num(o, "accepted") == 200);
  CHECK(num(o, "handled") == 0);
  CHECK(num(o, "missing") == 200);
  CHECK(r.out.find("200 accepted messages were not handled") != std::string::npos);
}

TEST_CASE("cairn bench refuses a durability the node does not run, and an unreachable node",
          "[bench][cli][errors]") {
  node_fixture f;
  auto r = f.bench({"--messages", "10", "--durability", "fsync"});
  CHECK(r.code == 2);
  CHECK(r.out.find("the node runs with durability os, not fsync") != std::string::npos);
  auto spans = f.bench({"--messages", "10", "--no-spans"});
  CHECK(spans.code == 2);
  CHECK(spans.out.find("--no-spans needs --embedded") != std::string::npos);
  auto gone = cairn_cli({"bench", "--messages", "10", "--node", "http://127.0.0.1:1"});
  CHECK(gone.code == 3);
  CHECK(gone.out.find("cannot reach the node") != std::string::npos);
}

TEST_CASE("the bench's histogram keeps three significant digits", "[bench]") {
  std::mt19937_64 rng{20261202};
  std::vector<uint64_t> values;
  actors::latency_histogram h;
  for (int i = 0; i < 20000; ++i) {
    auto v = rng() % (uint64_t{1} << (rng() % 40));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    auto exact = values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))];
    auto got = h.quantile(q);
    INFO("q " << q << " exact " << exact << " got " << got);
    CHECK(got >= exact);
    CHECK(static_cast<double>(got - exact) <= static_cast<double>(exact) / 1000.0 + 1.0);
  }
  CHECK(h.max() == values.back());
  // Its buckets, recorded again, give the same quantiles (how a report crosses HTTP).
  actors::latency_histogram copy;
  for (const auto& [v, n] : h.buckets())
    copy.record(v, n);
  CHECK(copy.quantile(0.99) == h.quantile(0.99));
  CHECK(copy.count() == h.count());
}
