// SPDX-License-Identifier: Apache-2.0
// `/metrics`: the runtime's counters, gauges and histograms and RocksDB's
// properties in the Prometheus text format.
#include <charconv>
#include <cmath>

#include "internal/node_api_impl.hpp"

namespace cairn::api {

namespace {

// Plain decimals (`0.00025`, never `2.5e-04`), the shortest text that reads
// back as the same double: Prometheus reads both, people read this one.
std::string fmt_double(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[1100];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string{buf, r.ptr};
}

} // namespace

http_response node_api::metrics() {
  auto s = rt_.stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n"
           + name + " " + std::to_string(value) + "\n";
  };
  metric("cairn_accepted_total", "counter", "Envelopes accepted from outside.", s.accepted);
  metric("cairn_duplicates_total", "counter", "Accepts answered from the dedupe store.",
         s.duplicates);
  metric("cairn_busy_total", "counter", "Accepts refused because the node was saturated.", s.busy);
  metric("cairn_processed_total", "counter", "Steps committed.", s.processed);
  metric("cairn_failed_total", "counter", "Handler failures (each attempt).", s.failed);
  metric("cairn_retried_total", "counter", "Failures scheduled for another attempt.", s.retried);
  metric("cairn_dead_lettered_total", "counter", "Envelopes moved to dead letters.",
         s.dead_lettered);
  metric("cairn_commits_total", "counter", "Storage writes by the commit coordinator.", s.commits);
  metric("cairn_commit_requests_total", "counter", "Commit requests in those writes.",
         s.commit_ops);
  metric("cairn_log_bytes_written_total", "counter",
         "Bytes written to the write-ahead log (write batches' keys, values and framing).",
         s.log_bytes);
  metric("cairn_mailbox_rows_unwritten_total", "counter",
         "Accepted messages whose step came in the write that accepted them (no mailbox row).",
         s.rows_unwritten);
  metric("cairn_mailbox_rows_carried_total", "counter",
         "Accepted messages whose step was not back when their stage was written (written, and "
         "answered, one write later).",
         s.rows_carried);
  out += "# HELP cairn_commit_cpu The CPU the commit thread is bound to (-1: none; commit_cpu).\n"
         "# TYPE cairn_commit_cpu gauge\ncairn_commit_cpu "
         + std::to_string(s.commit_cpu) + "\n";
  metric("cairn_mailbox_rows_read_total", "counter",
         "Mailbox rows read from storage into activations (at their start, or after more "
         "arrived than their window holds).",
         s.mailbox_rows_read);
  metric("cairn_passivations_total", "counter", "Activations passivated.", s.passivations);
  metric("cairn_memory_returns_total", "counter",
         "Times freed memory went back to the system after a wave of passivations.",
         s.memory_returns);
  metric("cairn_journal_pruned_total", "counter",
         "Journal events deleted under their kind's retention.", s.journal_pruned);
  metric("cairn_expired_total", "counter", "Dedupe claims and spans deleted after their retention.",
         s.expired);
  metric("cairn_spans_indexed_total", "counter",
         "Spans the trace index took (it follows the stored spans once a second).",
         s.spans_indexed);
  metric("cairn_mailbox_depth", "gauge", "Envelopes waiting in mailboxes.", s.pending);
  metric("cairn_active_actors", "gauge", "Activations in memory.", s.active);
  metric("cairn_timers_pending", "gauge", "Durable timers not yet fired.", s.timers);
  metric("cairn_dead_letters", "gauge", "Dead letters stored (kept across restarts).",
         s.dead_letters);
  if (!opts_.data_dir.empty()) {
    auto disk = disk_usage(opts_.data_dir);
    metric("cairn_data_dir_bytes", "gauge", "Bytes of files in the data directory.", disk.used);
    metric("cairn_disk_free_bytes", "gauge",
           "Bytes free for the node on the data directory's file system.", disk.free);
  }
  metric("cairn_storage_writable", "gauge",
         "1 while storage takes writes, 0 while it does not (a full disk).",
         s.storage_writable ? 1 : 0);
  metric("cairn_storage_write_failures_total", "counter",
         "Storage writes that failed or were refused while storage was unwritable.",
         s.storage_write_failures);
  metric("cairn_storage_outages_total", "counter", "Times storage became unwritable.",
         s.storage_outages);
  metric("cairn_actors_stopped", "gauge",
         "Actors stopped because their journal or snapshot cannot be replayed.", s.stopped_actors);
  auto family = [&](const char* name, const char* help, auto field) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " counter\n";
    for (const auto& [kind, ks] : s.by_kind)
      out += std::string{name} + "{kind=\"" + kind + "\"} " + std::to_string(ks.*field) + "\n";
  };
  family("cairn_kind_accepted_total", "Envelopes accepted from outside, by actor kind.",
         &kind_stats::accepted);
  family("cairn_kind_processed_total", "Steps committed, by actor kind.", &kind_stats::processed);
  family("cairn_kind_failed_total", "Handler failures, by actor kind.", &kind_stats::failed);
  family("cairn_kind_retried_total", "Failures scheduled for another attempt, by actor kind.",
         &kind_stats::retried);
  family("cairn_kind_dead_lettered_total", "Envelopes dead-lettered, by actor kind.",
         &kind_stats::dead_lettered);
  auto hist = [&](const char* name, const char* help, const histogram& h) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " histogram\n";
    for (size_t i = 0; i < h.bounds.size(); ++i)
      out += std::string{name} + "_bucket{le=\"" + fmt_double(h.bounds[i]) + "\"} "
             + std::to_string(h.counts[i]) + "\n";
    out += std::string{name} + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += std::string{name} + "_sum " + fmt_double(h.sum) + "\n";
    out += std::string{name} + "_count " + std::to_string(h.count) + "\n";
  };
  hist("cairn_commit_batch_size", "Commit requests per storage write.", s.commit.batch_size);
  hist("cairn_commit_latency_seconds", "Duration of one storage write, fsync included.",
       s.commit.latency_seconds);
  for (const auto& [name, value] : rt_.store().properties()) {
    if (name == "wal.logs-on-spare") { // the storage's own, not RocksDB's
      metric("cairn_wal_logs_on_spare_total", "counter",
             "Write-ahead logs started on a spare file of zeros since the start (wal_spare_mb).",
             value);
      continue;
    }
    std::string m = "cairn_" + name;
    for (auto& c : m)
      if (c == '.' || c == '-')
        c = '_';
    metric(m.c_str(), "gauge", ("RocksDB property " + name + ".").c_str(), value);
  }
  if (opts_.extra_metrics)
    out += opts_.extra_metrics();
  return http_response{200, "text/plain; version=0.0.4", std::move(out), {}, nullptr};
}

} // namespace cairn::api
