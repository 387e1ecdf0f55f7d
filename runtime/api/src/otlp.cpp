// SPDX-License-Identifier: Apache-2.0
// The OTLP/HTTP exporter (cairn/otlp.hpp; docs/observability.md, "Export").
#include "cairn/otlp.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "cairn/http_client.hpp"
#include "internal/step_tool.hpp"

namespace cairn {

namespace json = boost::json;

namespace {

json::object attribute(std::string_view key, json::object value) {
  return json::object{{"key", key}, {"value", std::move(value)}};
}

json::object string_value(std::string_view s) {
  return json::object{{"stringValue", s}};
}

json::object int_value(int64_t v) {
  return json::object{{"intValue", std::to_string(v)}}; // int64 as a string (protobuf's JSON)
}

json::object any_value(const span_attribute& a) {
  if (auto* s = std::get_if<std::string>(&a.value))
    return string_value(*s);
  if (auto* i = std::get_if<int64_t>(&a.value))
    return int_value(*i);
  if (auto* d = std::get_if<double>(&a.value))
    return json::object{{"doubleValue", *d}};
  return json::object{{"boolValue", std::get<bool>(a.value)}};
}

std::string nanos(int64_t us) {
  return std::to_string(us) + "000";
}

json::object span_json(const span_record& s) {
  json::object o;
  o["traceId"] = s.trace_id;
  o["spanId"] = s.span_id;
  if (!s.parent_span_id.empty())
    o["parentSpanId"] = s.parent_span_id;
  o["name"] = s.name.empty() ? std::string{"span"} : s.name;
  o["kind"] = static_cast<int>(s.kind);
  o["startTimeUnixNano"] = nanos(s.start_us);
  o["endTimeUnixNano"] = nanos(std::max(s.end_us, s.start_us));
  json::array attrs;
  if (!s.actor.empty()) {
    // A step: a message processed by an actor (OpenTelemetry's messaging
    // conventions, then cairn's own).
    attrs.push_back(attribute("messaging.system", string_value("cairn")));
    attrs.push_back(attribute("messaging.operation.type", string_value("process")));
    attrs.push_back(attribute("messaging.destination.name", string_value(s.actor)));
    if (!s.envelope_id.empty())
      attrs.push_back(attribute("messaging.message.id", string_value(s.envelope_id)));
    attrs.push_back(attribute("cairn.actor.id", string_value(s.actor)));
    attrs.push_back(
      attribute("cairn.actor.kind", string_value(std::string_view{s.actor}.substr(
                                      0, std::min(s.actor.find('/'), s.actor.size())))));
    attrs.push_back(attribute("cairn.message.type", string_value(s.type)));
    attrs.push_back(attribute("cairn.attempt", int_value(s.attempt + 1)));
    attrs.push_back(attribute("cairn.events", int_value(s.events)));
    attrs.push_back(attribute("cairn.sent", int_value(static_cast<int64_t>(s.sent.size()))));
    if (auto tool = api::step_tool(s); !tool.empty()) {
      attrs.push_back(attribute("gen_ai.operation.name", string_value("execute_tool")));
      attrs.push_back(attribute("gen_ai.tool.name", string_value(tool)));
    }
  }
  for (const auto& a : s.attributes)
    attrs.push_back(attribute(a.key, any_value(a)));
  o["attributes"] = std::move(attrs);
  if (!s.links.empty()) {
    json::array links;
    for (const auto& l : s.links)
      links.push_back(json::object{
        {"traceId", l.trace_id},
        {"spanId", l.span_id},
        {"attributes", json::array{attribute("cairn.link.type", string_value(l.type))}}});
    o["links"] = std::move(links);
  }
  json::object status{{"code", static_cast<int>(s.status)}};
  if (s.status == span_status::error && !s.status_message.empty())
    status["message"] = s.status_message;
  o["status"] = std::move(status);
  return o;
}

} // namespace

std::string parse_otlp_endpoint(const std::string& endpoint, std::string& host, std::string& port,
                                std::string& target) {
  const std::string scheme = "http://";
  if (endpoint.rfind(scheme, 0) != 0)
    return "must start with http:// (plain HTTP; put a collector on loopback in front of TLS)";
  auto rest = endpoint.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  target = slash == std::string::npos ? std::string{} : rest.substr(slash);
  if (target.empty() || target == "/")
    target = "/v1/traces";
  if (authority.empty())
    return "has no host";
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return "has an unclosed [ in its host";
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    port = after.empty() ? "80" : after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (host.empty())
    return "has no host";
  if (port.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })
      || std::stoi(port) == 0 || std::stoi(port) > 65535)
    return "has an invalid port";
  return {};
}

std::string otlp_json(const std::vector<span_record>& spans, const otlp_options& opts) {
  json::array resource_attrs{attribute("service.name", string_value("cairn"))};
  if (!opts.service_instance.empty())
    resource_attrs.push_back(attribute("service.instance.id", string_value(opts.service_instance)));
  if (!opts.version.empty())
    resource_attrs.push_back(attribute("service.version", string_value(opts.version)));
  json::array out;
  out.reserve(spans.size());
  for (const auto& s : spans)
    out.push_back(span_json(s));
  json::object scope{{"name", "cairn"}};
  if (!opts.version.empty())
    scope["version"] = opts.version;
  json::object body{
    {"resourceSpans", json::array{json::object{
                        {"resource", json::object{{"attributes", std::move(resource_attrs)}}},
                        {"scopeSpans", json::array{json::object{{"scope", std::move(scope)},
                                                                {"spans", std::move(out)}}}}}}}};
  return json::serialize(body);
}

struct otlp_exporter::impl {
  runtime* rt = nullptr;
  otlp_options opts;
  std::string host, port, target;
  std::thread thread;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<uint64_t> exported{0}, dropped{0}, rejected{0}, failures{0}, queued{0};

  /// Waits `d` or until stopped; false once stopped.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock{mtx};
    return !cv.wait_for(lock, d, [this] { return stopping; });
  }

  bool stopped() {
    std::lock_guard<std::mutex> guard{mtx};
    return stopping;
  }

  enum class outcome { sent, retry, refused };

  outcome send(const std::vector<span_record>& spans, std::chrono::milliseconds& retry_after) {
    http_client_request req;
    req.method = "POST";
    req.host = host;
    req.port = port;
    req.target = target;
    req.headers = opts.headers;
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = otlp_json(spans, opts);
    req.timeout = opts.timeout;
    req.body_limit = 1 << 20;
    req.cancelled = [this] { return stopped(); };
    auto res = http_fetch(req);
    if (res.failure != http_client_failure::none) {
      spdlog::warn("otlp: cannot send {} spans to {}: {}", spans.size(), opts.endpoint, res.error);
      return outcome::retry;
    }
    if (res.status >= 200 && res.status < 300) {
      // A partial success names the spans the receiver refused.
      boost::system::error_code ec;
      auto v = json::parse(res.body, ec);
      if (!ec && v.is_object())
        if (auto* p = v.as_object().if_contains("partialSuccess"); p && p->is_object()) {
          int64_t refused = 0;
          if (auto* n = p->as_object().if_contains("rejectedSpans")) {
            if (n->is_string())
              refused = std::atoll(n->as_string().c_str());
            else if (n->is_int64())
              refused = n->as_int64();
          }
          if (refused > 0) {
            rejected.fetch_add(static_cast<uint64_t>(refused));
            auto* msg = p->as_object().if_contains("errorMessage");
            spdlog::warn("otlp: {} of {} spans refused by {}: {}", refused, spans.size(),
                         opts.endpoint,
                         msg && msg->is_string() ? std::string{msg->as_string()} : "");
          }
        }
      return outcome::sent;
    }
    if (res.status == 429 || res.status == 502 || res.status == 503 || res.status == 504) {
      auto after = res.header("retry-after");
      if (!after.empty() && std::all_of(after.begin(), after.end(), ::isdigit) && after.size() < 6)
        retry_after = std::chrono::seconds{std::stoi(after)};
      spdlog::warn("otlp: {} answered {}; {} spans sent again later", opts.endpoint, res.status,
                   spans.size());
      return outcome::retry;
    }
    spdlog::warn("otlp: {} refused {} spans with HTTP {}: {}", opts.endpoint, spans.size(),
                 res.status, res.body.substr(0, 200));
    return outcome::refused;
  }

  void run() {
    pthread_setname_np(pthread_self(), "cairn.otlp");
    // Where the last acknowledged batch ended; a first start exports from now on.
    std::string cursor;
    if (auto stored = rt->read_meta("otlp/cursor"); stored && *stored)
      cursor = **stored;
    else
      cursor = runtime::span_cursor_at(now_us() - opts.settle.count() * 1000);
    auto backoff = std::chrono::milliseconds{1000};
    while (!stopped()) {
      auto horizon = now_us() - opts.settle.count() * 1000;
      // The queue: spans after the cursor. Counted up to twice its size;
      // past its size, the oldest go uncounted by the receiver.
      auto waiting = rt->read_spans(cursor, horizon, opts.queue * 2, false);
      if (waiting) {
        queued.store(waiting->rows);
        if (waiting->rows > opts.queue) {
          auto skip = rt->read_spans(cursor, horizon, waiting->rows - opts.queue, false);
          if (skip && !skip->next.empty()) {
            cursor = skip->next;
            dropped.fetch_add(skip->rows);
            queued.store(waiting->rows - skip->rows);
            spdlog::warn("otlp: {} spans dropped: more than {} waited for {}", skip->rows,
                         opts.queue, opts.endpoint);
          }
        }
      }
      auto page = rt->read_spans(cursor, horizon, opts.batch, true);
      if (!page) {
        spdlog::warn("otlp: cannot read spans: {}", render(page.error()));
        if (!pause(opts.interval))
          return;
        continue;
      }
      if (page->rows == 0) {
        if (!pause(opts.interval))
          return;
        continue;
      }
      auto result = outcome::sent; // a page of undecodable rows only: passed over
      auto retry_after = std::chrono::milliseconds{0};
      if (!page->spans.empty())
        result = send(page->spans, retry_after);
      if (result == outcome::retry) {
        failures.fetch_add(1);
        auto wait = retry_after.count() > 0 ? retry_after : backoff;
        backoff = std::min(backoff * 2, std::chrono::milliseconds{30'000});
        if (!pause(wait))
          return;
        continue;
      }
      backoff = std::chrono::milliseconds{1000};
      if (result == outcome::sent)
        exported.fetch_add(page->spans.size());
      else
        rejected.fetch_add(page->spans.size());
      cursor = page->next;
      if (auto err = rt->write_meta("otlp/cursor", cursor))
        spdlog::warn("otlp: cannot keep the export cursor: {}", render(err));
      if (page->rows < opts.batch && !pause(opts.interval))
        return; // caught up: look again later
    }
  }
};

caf::expected<std::unique_ptr<otlp_exporter>> otlp_exporter::start(runtime& rt, otlp_options opts) {
  auto d = std::make_unique<impl>();
  if (auto why = parse_otlp_endpoint(opts.endpoint, d->host, d->port, d->target); !why.empty())
    return make_error(errc::invalid_argument, "otlp_endpoint '" + opts.endpoint + "' " + why);
  if (opts.batch == 0 || opts.queue == 0)
    return make_error(errc::invalid_argument, "otlp_batch and otlp_queue must be at least 1");
  d->rt = &rt;
  d->opts = std::move(opts);
  auto* raw = d.get();
  d->thread = std::thread{[raw] { raw->run(); }};
  return std::unique_ptr<otlp_exporter>{new otlp_exporter{std::move(d)}};
}

otlp_exporter::otlp_exporter(std::unique_ptr<impl> d) : impl_(std::move(d)) {}

otlp_exporter::~otlp_exporter() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

otlp_exporter::counters otlp_exporter::stats() const {
  counters c;
  c.exported = impl_->exported.load();
  c.dropped = impl_->dropped.load();
  c.rejected = impl_->rejected.load();
  c.failures = impl_->failures.load();
  c.queued = impl_->queued.load();
  return c;
}

std::string otlp_exporter::metrics_text() const {
  auto c = stats();
  std::string out;
  auto add = [&out](const char* name, const char* type, const char* help, uint64_t v) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n"
           + name + " " + std::to_string(v) + "\n";
  };
  add("cairn_otlp_spans_exported_total", "counter", "Spans the OTLP endpoint accepted.",
      c.exported);
  add("cairn_otlp_spans_dropped_total", "counter",
      "Spans skipped because more than otlp_queue waited.", c.dropped);
  add("cairn_otlp_spans_rejected_total", "counter",
      "Spans the OTLP endpoint refused (4xx, or partialSuccess).", c.rejected);
  add("cairn_otlp_export_failures_total", "counter",
      "Export requests that failed and were tried again.", c.failures);
  add("cairn_otlp_queue_spans", "gauge",
      "Spans waiting to be exported (counted up to twice otlp_queue).", c.queued);
  return out;
}

} // namespace cairn
