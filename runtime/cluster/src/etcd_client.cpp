// SPDX-License-Identifier: Apache-2.0
// etcd's v3 JSON gateway (etcd 3.4): POST /v3/kv/{put,range,deleterange,txn},
// /v3/lease/{grant,keepalive,revoke}. Keys and values travel as base64;
// 64-bit numbers come back as JSON strings and absent fields mean zero.
#include "cairn/cluster/etcd_client.hpp"

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/http_client.hpp"
#include "cairn/text_codec.hpp"
#include "json_fields.hpp"

namespace cairn::cluster {

namespace json = boost::json;

namespace {

std::string b64(std::string_view s) {
  return base64_encode(s);
}

std::string unb64(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  if (!v || !v->is_string())
    return {};
  auto d = base64_decode(v->as_string());
  return d ? *d : std::string{};
}

/// The smallest key after every key starting with `prefix` (etcd's range end).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<unsigned char>(prefix.back());
    if (c < 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0'); // every key
}

std::vector<etcd_kv> kvs_of(const json::object& answer) {
  std::vector<etcd_kv> out;
  auto kvs = answer.if_contains("kvs");
  if (!kvs || !kvs->is_array())
    return out;
  for (const auto& v : kvs->as_array()) {
    if (!v.is_object())
      continue;
    const auto& o = v.as_object();
    out.push_back(etcd_kv{unb64(o, "key"), unb64(o, "value"), number_field(o, "create_revision"),
                          number_field(o, "mod_revision"), number_field(o, "version"),
                          number_field(o, "lease")});
  }
  return out;
}

caf::expected<json::object> parse_answer(const std::string& path, const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object())
    return make_error(errc::unavailable, "etcd " + path + " answered with something not JSON");
  return std::move(v.as_object());
}

json::object op_json(const etcd_op& op) {
  if (op.remove)
    return json::object{{"request_delete_range", json::object{{"key", b64(op.key)}}}};
  json::object put{{"key", b64(op.key)}, {"value", b64(op.value)}};
  if (op.lease != 0)
    put["lease"] = std::to_string(op.lease);
  return json::object{{"request_put", std::move(put)}};
}

json::object compare_json(const etcd_compare& c) {
  static const char* const targets[] = {"VERSION", "MOD", "CREATE", "VALUE"};
  static const char* const results[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
  json::object o{{"key", b64(c.key)},
                 {"target", targets[static_cast<int>(c.what)]},
                 {"result", results[static_cast<int>(c.op)]}};
  switch (c.what) {
    case etcd_compare::target::version: o["version"] = std::to_string(c.number); break;
    case etcd_compare::target::mod_revision: o["mod_revision"] = std::to_string(c.number); break;
    case etcd_compare::target::create_revision:
      o["create_revision"] = std::to_string(c.number);
      break;
    case etcd_compare::target::value: o["value"] = b64(c.text); break;
  }
  return o;
}

} // namespace

etcd_compare etcd_compare::absent(std::string key) {
  return etcd_compare{std::move(key), target::version, result::equal, 0, {}};
}

etcd_compare etcd_compare::modified_at(std::string key, int64_t revision) {
  return etcd_compare{std::move(key), target::mod_revision, result::equal, revision, {}};
}

etcd_compare etcd_compare::holds(std::string key, std::string value) {
  return etcd_compare{std::move(key), target::value, result::equal, 0, std::move(value)};
}

etcd_op etcd_op::put(std::string key, std::string value, int64_t lease) {
  return etcd_op{false, std::move(key), std::move(value), lease};
}

etcd_op etcd_op::erase(std::string key) {
  return etcd_op{true, std::move(key), {}, 0};
}

etcd_client::etcd_client(std::vector<std::string> urls, std::chrono::milliseconds timeout)
  : urls_(std::move(urls)), timeout_(timeout) {
  for (const auto& u : urls_) {
    auto rest = u.substr(u.rfind("http://", 0) == 0 ? 7 : 0);
    rest = rest.substr(0, rest.find('/'));
    auto colon = rest.rfind(':');
    endpoints_.push_back(colon == std::string::npos
                           ? endpoint{rest, "2379"}
                           : endpoint{rest.substr(0, colon), rest.substr(colon + 1)});
  }
}

caf::expected<etcd_client> etcd_client::from_urls(const std::string& urls,
                                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> list;
  size_t pos = 0;
  while (pos <= urls.size()) {
    auto comma = urls.find(',', pos);
    auto u = urls.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto host_port = u.rfind("http://", 0) == 0 ? u.substr(7) : std::string{};
    auto colon = host_port.rfind(':');
    if (host_port.empty() || host_port.find('/') != std::string::npos || colon == std::string::npos
        || colon == 0 || colon + 1 == host_port.size()
        || host_port.find_first_not_of("0123456789", colon + 1) != std::string::npos)
      return make_error(errc::invalid_argument,
                        "etcd endpoint '" + u
                          + "' is not http://HOST:PORT (https is not supported)");
    list.push_back(u);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return etcd_client{std::move(list), timeout};
}

caf::expected<std::string> etcd_client::call(const std::string& path, const std::string& body) {
  std::string failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    http_client_request req;
    req.method = "POST";
    req.host = endpoints_[i].host;
    req.port = endpoints_[i].port;
    req.target = path;
    req.headers = {{"Content-Type", "application/json"}};
    req.body = body;
    req.timeout = timeout_;
    req.body_limit = 64 << 20;
    auto r = http_fetch(req);
    if (r.failure != http_client_failure::none) {
      failures += (failures.empty() ? "" : "; ") + urls_[i] + ": " + r.error;
      continue; // try the next endpoint
    }
    if (r.status != 200) {
      std::string message = r.body;
      boost::system::error_code ec;
      auto v = json::parse(r.body, ec);
      if (!ec && v.is_object())
        if (auto m = v.as_object().if_contains("message"); m && m->is_string())
          message = std::string{m->as_string()};
      return make_error(r.status >= 500 ? errc::unavailable : errc::invalid_argument,
                        "etcd " + path + " answered " + std::to_string(r.status) + ": " + message);
    }
    return std::move(r.body);
  }
  return make_error(errc::unavailable, "no etcd endpoint answered " + path + " (" + failures + ")");
}

caf::expected<json::object> etcd_client::post(const std::string& path, const std::string& body) {
  auto text = call(path, body);
  if (!text)
    return std::move(text.error());
  return parse_answer(path, *text);
}

caf::expected<int64_t> etcd_client::put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  json::object req{{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0)
    req["lease"] = std::to_string(lease);
  auto a = post("/v3/kv/put", json::serialize(req));
  if (!a)
    return std::move(a.error());
  auto h = a->if_contains("header");
  return h && h->is_object() ? number_field(h->as_object(), "revision") : 0;
}

caf::expected<std::vector<etcd_kv>> etcd_client::get(const std::string& key) {
  auto a = post("/v3/kv/range", json::serialize(json::object{{"key", b64(key)}}));
  if (!a)
    return std::move(a.error());
  return kvs_of(*a);
}

caf::expected<std::vector<etcd_kv>> etcd_client::prefix(const std::string& p, int64_t limit,
                                                        int64_t* read_at) {
  json::object req{{"key", b64(p.empty() ? std::string(1, '\0') : p)},
                   {"range_end", b64(prefix_end(p))}};
  if (limit > 0)
    req["limit"] = std::to_string(limit);
  auto a = post("/v3/kv/range", json::serialize(req));
  if (!a)
    return std::move(a.error());
  if (read_at) {
    auto h = a->if_contains("header");
    *read_at = h && h->is_object() ? number_field(h->as_object(), "revision") : 0;
  }
  return kvs_of(*a);
}

caf::expected<int64_t> etcd_client::erase(const std::string& key) {
  auto a = post("/v3/kv/deleterange", json::serialize(json::object{{"key", b64(key)}}));
  if (!a)
    return std::move(a.error());
  return number_field(*a, "deleted");
}

caf::expected<bool> etcd_client::txn(const std::vector<etcd_compare>& compare,
                                     const std::vector<etcd_op>& success,
                                     const std::vector<etcd_op>& failure) {
  json::array c, s, f;
  for (const auto& x : compare)
    c.push_back(compare_json(x));
  for (const auto& x : success)
    s.push_back(op_json(x));
  for (const auto& x : failure)
    f.push_back(op_json(x));
  auto a = post("/v3/kv/txn", json::serialize(json::object{{"compare", std::move(c)},
                                                           {"success", std::move(s)},
                                                           {"failure", std::move(f)}}));
  if (!a)
    return std::move(a.error());
  // A transaction whose compares failed has no `succeeded` field at all.
  auto ok = a->if_contains("succeeded");
  return ok && ok->is_bool() && ok->as_bool();
}

caf::expected<etcd_lease> etcd_client::grant(int64_t ttl_seconds) {
  auto a =
    post("/v3/lease/grant", json::serialize(json::object{{"TTL", std::to_string(ttl_seconds)}}));
  if (!a)
    return std::move(a.error());
  if (auto e = a->if_contains("error"); e && e->is_string() && !e->as_string().empty())
    return make_error(errc::invalid_argument,
                      "etcd refused a lease: " + std::string{e->as_string()});
  etcd_lease l{number_field(*a, "ID"), number_field(*a, "TTL")};
  if (l.id == 0)
    return make_error(errc::unavailable, "etcd granted no lease: " + json::serialize(*a));
  return l;
}

caf::expected<int64_t> etcd_client::keep_alive(int64_t lease) {
  auto text =
    call("/v3/lease/keepalive", json::serialize(json::object{{"ID", std::to_string(lease)}}));
  if (!text)
    return std::move(text.error());
  // A streaming answer: one JSON object per renewal; the first is enough.
  auto line = text->substr(0, text->find('\n'));
  auto a = parse_answer("/v3/lease/keepalive", line);
  if (!a)
    return std::move(a.error());
  auto result = a->if_contains("result");
  // A lease etcd no longer has answers without a TTL.
  return result && result->is_object() ? number_field(result->as_object(), "TTL") : 0;
}

caf::error etcd_client::revoke(int64_t lease) {
  auto a = post("/v3/lease/revoke", json::serialize(json::object{{"ID", std::to_string(lease)}}));
  return a ? caf::error{} : std::move(a.error());
}

} // namespace cairn::cluster
