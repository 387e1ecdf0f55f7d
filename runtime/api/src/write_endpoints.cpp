// SPDX-License-Identifier: Apache-2.0
// The node API's write endpoints: sending a message (answered from the
// commit callback), redriving and discarding dead letters.
#include <boost/json.hpp>

#include "cairn/plain_json.hpp"
#include "internal/node_api_impl.hpp"

namespace cairn::api {

namespace json = boost::json;

namespace {

/// Whether `v` holds a double anywhere. Such a payload is decoded from the
/// text `serialize_plain` makes of it, as before the parsed value was used:
/// that text turns a whole-number double into an integer (`2.0` reads as 2
/// for an integer field) and an infinite one into `null`.
bool has_double(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return true;
    case json::kind::array:
      for (const auto& x : v.get_array())
        if (has_double(x))
          return true;
      return false;
    case json::kind::object:
      for (const auto& kv : v.get_object())
        if (has_double(kv.value()))
          return true;
      return false;
    default: return false;
  }
}

} // namespace

std::optional<http_response> node_api::message_envelope(const http_request& req,
                                                        const std::string& id, envelope& env) {
  auto ctype = req.header("content-type");
  if (ctype.rfind("application/json", 0) != 0)
    return problem(415, "unsupported_media_type",
                   "send the message as application/json, not '" + ctype + "'");
  json::stream_parser parser;
  boost::system::error_code ec;
  auto used = parser.write(req.body.data(), req.body.size(), ec);
  if (!ec)
    parser.finish(ec);
  if (ec)
    return problem(400, "malformed_json",
                   "body is not valid JSON at byte " + std::to_string(used) + ": " + ec.message());
  auto body = parser.release();
  if (!body.is_object())
    return problem(400, "invalid_body", "body must be a JSON object with \"type\" and \"payload\"");
  auto bad = envelope_of(body.as_object(), id, env);
  env.traceparent = req.header("traceparent");
  return bad;
}

node_api::message_members node_api::members_of(const json::object& obj) {
  message_members m;
  for (const auto& kv : obj) {
    auto k = kv.key();
    if (k == "to")
      m.to = &kv.value();
    else if (k == "type")
      m.type = &kv.value();
    else if (k == "payload")
      m.payload = &kv.value();
    else if (k == "traceparent")
      m.traceparent = &kv.value();
    else if (k == "idempotency_key")
      m.idempotency_key = &kv.value();
  }
  return m;
}

std::optional<http_response> node_api::envelope_of(const json::object& obj, std::string id,
                                                   envelope& env) {
  return envelope_of(members_of(obj), std::move(id), env);
}

std::optional<http_response> node_api::envelope_of(const message_members& m, std::string id,
                                                   envelope& env) {
  auto* type = m.type;
  if (type == nullptr || !type->is_string() || type->as_string().empty())
    return problem(400, "invalid_body", "\"type\" must be a non-empty string");
  auto* key = m.idempotency_key;
  if (key != nullptr && !key->is_string())
    return problem(400, "invalid_body", "\"idempotency_key\" must be a string");
  env.from = "external";
  env.to = std::move(id);
  env.type = std::string{type->as_string()};
  env.format = static_cast<uint8_t>(payload_format::json);
  auto* payload = m.payload;
  if (key != nullptr)
    env.idempotency_key = std::string{key->as_string()};
  // A kind that declares its message types gets only those, decoded here:
  // a bad one is refused before anything is persisted.
  auto codec = rt_.edge_codec(kind_of(env.to), env.type);
  if (!codec) {
    if (code_of(codec.error()) == errc::invalid_argument)
      return problem(400, "unknown_message_type", render(codec.error()));
    return from_error(codec.error());
  }
  if (*codec != nullptr && (*codec)->from_json_value && !(*codec)->json_passthrough
      && (payload == nullptr || !has_double(*payload))) {
    // Decoded from the parsed value: not written out as text to be parsed again.
    static const json::value null_payload;
    auto stored = (*codec)->from_json_value(payload != nullptr ? payload : &null_payload);
    if (!stored)
      return from_error(stored.error());
    env.format = static_cast<uint8_t>(payload_format::binary);
    env.payload = std::move(*stored);
    return std::nullopt;
  }
  // Stored as the client wrote its numbers (Boost.JSON would turn 12.5 into 1.25E1).
  env.payload = payload != nullptr ? serialize_plain(*payload) : "null";
  if (*codec != nullptr) {
    auto stored = (*codec)->from_json(env.payload);
    if (!stored)
      return from_error(stored.error());
    if (!(*codec)->json_passthrough) {
      env.format = static_cast<uint8_t>(payload_format::binary);
      env.payload = std::move(*stored);
    }
  }
  return std::nullopt;
}

// Answers 202 from the commit callback, once the envelope is durable: no
// thread waits for the disk meanwhile.
void node_api::post_message(const http_request& req, const std::string& id,
                            const http_responder& respond) {
  if (!valid_actor_id(id))
    return respond(
      problem(400, "invalid_argument", "invalid actor id '" + id + "': expected kind/key"));
  envelope env;
  if (auto bad = message_envelope(req, id, env))
    return respond(*bad);
  rt_.accept_async(std::move(env),
                   [respond, starting = opts_.starting](caf::expected<std::string> r) {
                     if (!r)
                       return respond(from_error(r.error(), starting && starting()));
                     std::string body = "{\"id\":";
                     append_json_string(body, *r);
                     body += '}';
                     respond(http_response{202, "application/json", std::move(body), {}, nullptr});
                   });
}

namespace {

constexpr size_t max_batch = 1000;

/// A refusal as one entry of a batch's results.
json::object result_of(const http_response& p) {
  boost::system::error_code ec;
  auto v = json::parse(p.body, ec);
  json::object o;
  o["status"] = p.status;
  if (!ec && v.is_object()) {
    if (auto* c = v.as_object().if_contains("code"))
      o["code"] = *c;
    if (auto* d = v.as_object().if_contains("detail"))
      o["detail"] = *d;
  }
  return o;
}

} // namespace

void node_api::post_batch(const http_request& req, const http_responder& respond) {
  auto ctype = req.header("content-type");
  bool ndjson =
    ctype.rfind("application/x-ndjson", 0) == 0 || ctype.rfind("application/jsonl", 0) == 0;
  if (!ndjson && ctype.rfind("application/json", 0) != 0)
    return respond(problem(415, "unsupported_media_type",
                           "send the batch as application/json (an array) or application/x-ndjson "
                           "(one message per line), not '"
                             + ctype + "'"));
  // The messages, or for a line that is not JSON, why not. Their memory is
  // one arena, released at once when this function returns.
  json::monotonic_resource arena;
  std::vector<json::value> items;
  std::vector<std::optional<http_response>> problems;
  if (ndjson) {
    size_t at = 0, line = 0;
    while (at < req.body.size()) {
      auto end = req.body.find('\n', at);
      if (end == std::string::npos)
        end = req.body.size();
      auto text = std::string_view{req.body}.substr(at, end - at);
      at = end + 1;
      ++line;
      if (text.find_first_not_of(" \t\r") == std::string_view::npos)
        continue; // a blank line
      boost::system::error_code ec;
      auto v = json::parse(text, ec, &arena);
      problems.push_back(ec ? std::optional<http_response>{problem(
                           400, "malformed_json",
                           "line " + std::to_string(line) + " is not valid JSON: " + ec.message())}
                            : std::nullopt);
      items.push_back(ec ? json::value{} : std::move(v));
    }
  } else {
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec, &arena);
    if (ec)
      return respond(problem(400, "malformed_json", "body is not valid JSON: " + ec.message()));
    if (!v.is_array())
      return respond(problem(400, "invalid_body",
                             "body must be a JSON array of messages, each {\"to\", \"type\", "
                             "\"payload\"}"));
    for (auto& m : v.as_array()) {
      items.push_back(std::move(m));
      problems.emplace_back();
    }
  }
  if (items.empty())
    return respond(problem(400, "invalid_body", "the batch has no message"));
  if (items.size() > max_batch)
    return respond(problem(413, "too_many_messages",
                           std::to_string(items.size()) + " messages in one batch; at most "
                             + std::to_string(max_batch)));
  std::vector<envelope> envs;
  std::vector<size_t> slot; // envs -> item
  envs.reserve(items.size());
  slot.reserve(items.size());
  auto header_trace = req.header("traceparent");
  for (size_t i = 0; i < items.size(); ++i) {
    if (problems[i])
      continue;
    if (!items[i].is_object()) {
      problems[i] = problem(400, "invalid_body", "a message must be a JSON object");
      continue;
    }
    auto m = members_of(items[i].as_object());
    auto* to = m.to;
    if (to == nullptr || !to->is_string() || !valid_actor_id(std::string_view{to->as_string()})) {
      problems[i] = problem(400, "invalid_argument", "\"to\" must name an actor as kind/key");
      continue;
    }
    // Made in place: an envelope is a dozen strings, each move of it a dozen moves.
    auto& env = envs.emplace_back();
    if (auto bad = envelope_of(m, std::string{to->as_string()}, env)) {
      problems[i] = std::move(bad);
      envs.pop_back();
      continue;
    }
    auto* tp = m.traceparent;
    env.traceparent = tp && tp->is_string() ? std::string{tp->as_string()} : header_trace;
    slot.push_back(i);
  }
  // Runs on the commit thread: the answer is written as text, straight into
  // its body, not built as a JSON tree or as a string per message first.
  auto answer = [respond, problems = std::move(problems), slot,
                 starting = opts_.starting](std::vector<runtime::batch_result> rs) {
    // The refusals first: they set the counts and the status the body starts with.
    size_t written = std::min(slot.size(), rs.size()), refused = 0, write_refused = 0;
    unsigned first_refusal = 0;
    for (const auto& p : problems)
      if (p) {
        ++refused;
        first_refusal = first_refusal ? first_refusal : p->status;
      }
    std::vector<std::optional<http_response>> refusals; // sized at the first one
    for (size_t k = 0; k < written; ++k)
      if (!rs[k].id) {
        refusals.resize(written);
        refusals[k] = from_error(rs[k].id.error(), starting && starting());
        ++write_refused;
        first_refusal = first_refusal ? first_refusal : refusals[k]->status;
      }
    size_t accepted = written - write_refused;
    refused += write_refused;
    std::string body = "{\"accepted\":" + std::to_string(accepted)
                       + ",\"refused\":" + std::to_string(refused) + ",\"results\":[";
    body.reserve(body.size() + problems.size() * 64);
    // In the batch's order: a message refused before the write, or its result.
    for (size_t i = 0, k = 0; i < problems.size(); ++i) {
      if (i > 0)
        body += ',';
      if (problems[i]) {
        body += serialize_plain(result_of(*problems[i]));
        continue;
      }
      if (k >= written || slot[k] != i) {
        body += "null";
        continue;
      }
      if (!refusals.empty() && refusals[k]) {
        body += serialize_plain(result_of(*refusals[k]));
      } else {
        body += "{\"id\":";
        append_json_string(body, *rs[k].id);
        body += rs[k].duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}";
      }
      ++k;
    }
    body += "]}";
    // Some persisted: 202, the results say which. None: the first refusal's status.
    respond(http_response{
      accepted > 0 ? 202u : first_refusal, "application/json", std::move(body), {}, nullptr});
  };
  if (envs.empty())
    return answer({});
  rt_.accept_batch(std::move(envs), std::move(answer));
}

http_response node_api::redrive(const std::string& id) {
  if (auto err = rt_.redrive(id))
    return from_error(err, starting());
  json::object o;
  o["id"] = id;
  o["redriven"] = true;
  return json_response(200, o);
}

void node_api::redrive_async(const std::string& id, const http_responder& respond) {
  rt_.redrive_async(id, [id, respond, starting = opts_.starting](caf::error err) {
    if (err)
      return respond(from_error(err, starting && starting()));
    json::object o;
    o["id"] = id;
    o["redriven"] = true;
    respond(json_response(200, o));
  });
}

void node_api::discard_async(const std::string& id, const http_responder& respond) {
  rt_.discard_async(id, [respond, starting = opts_.starting](caf::error err) {
    if (err)
      return respond(from_error(err, starting && starting()));
    respond(http_response{204, "application/json", "", {}, nullptr});
  });
}

http_response node_api::discard(const std::string& id) {
  if (auto err = rt_.discard(id))
    return from_error(err, starting());
  return http_response{204, "application/json", "", {}, nullptr};
}

} // namespace cairn::api
