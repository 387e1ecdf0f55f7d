// SPDX-License-Identifier: Apache-2.0
// JSON-RPC 2.0 message shapes: building responses, classifying what a
// client sent, and answering one request through its exchange.
#include "internal/jsonrpc.hpp"

#include "internal/session_store.hpp"

namespace cairn::mcp {

namespace {

const char* const levels[] = {"debug", "info",     "notice", "warning",
                              "error", "critical", "alert",  "emergency"};

} // namespace

int log_level_index(std::string_view level) {
  for (int i = 0; i < 8; ++i)
    if (level == levels[i])
      return i;
  return -1;
}

std::string rpc_error(const json::value& id, int code, std::string_view message,
                      const json::value& data) {
  json::object err{{"code", code}, {"message", message}};
  if (!data.is_null())
    err["data"] = data;
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}});
}

std::string rpc_result(const json::value& id, json::value result) {
  return json::serialize(
    json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

std::string rpc_notification(std::string_view method, json::object params) {
  return json::serialize(
    json::object{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

parsed classify(json::value v) {
  parsed p;
  if (!v.is_object()) {
    p.why = "a JSON-RPC message must be an object";
    return p;
  }
  p.msg = std::move(v.as_object());
  auto& o = p.msg;
  auto jr = o.if_contains("jsonrpc");
  if (!jr || !jr->is_string() || jr->as_string() != "2.0") {
    p.why = "'jsonrpc' must be \"2.0\"";
    if (auto id = o.if_contains("id"); id && (id->is_string() || id->is_int64() || id->is_uint64()))
      p.id = *id;
    return p;
  }
  auto id = o.if_contains("id");
  bool has_id = id != nullptr;
  if (has_id && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
    p.why = "'id' must be a string or an integer";
    return p;
  }
  if (has_id)
    p.id = *id;
  auto method = o.if_contains("method");
  if (!method) {
    if (has_id && (o.contains("result") || o.contains("error"))) {
      p.what = parsed::response;
      return p;
    }
    p.why = "a JSON-RPC request needs a 'method'";
    return p;
  }
  if (!method->is_string()) {
    p.why = "'method' must be a string";
    return p;
  }
  p.method = std::string{method->as_string()};
  if (auto params = o.if_contains("params")) {
    if (!params->is_object()) {
      p.why = "'params' must be an object";
      return p;
    }
    p.params = params->as_object();
  }
  p.what = has_id ? parsed::request : parsed::notification;
  return p;
}

void exchange::reply(json::value result) {
  if (done.exchange(true))
    return;
  if (on_done)
    on_done(*this);
  if (stateless() && result.is_object() && !result.as_object().contains("resultType"))
    result.as_object()["resultType"] = "complete";
  sink(rpc_result(id, std::move(result)), true);
}

void exchange::fail(int code, std::string_view message, const json::value& data) {
  if (done.exchange(true))
    return;
  error_code.store(code);
  if (on_done)
    on_done(*this);
  sink(rpc_error(id, code, message, data), true);
}

void exchange::abandon() {
  if (done.exchange(true))
    return;
  if (on_done)
    on_done(*this);
  sink({}, true);
}

void exchange::notify(std::string_view m, json::object p) {
  if (done.load() || !can_stream)
    return;
  sink(rpc_notification(m, std::move(p)), false);
}

std::string exchange::request(std::string_view m, json::object p,
                              std::function<void(json::object)> answer) {
  if (done.load() || !can_stream || !sess)
    return {};
  auto rid = sess->add_pending(std::move(answer));
  if (rid.empty())
    return {};
  sink(json::serialize(
         json::object{{"jsonrpc", "2.0"}, {"id", rid}, {"method", m}, {"params", std::move(p)}}),
       false);
  return rid;
}

void exchange::forget(const std::string& rid) {
  if (sess && !rid.empty())
    sess->take_pending(rid); // the answer function is dropped unrun
}

} // namespace cairn::mcp
