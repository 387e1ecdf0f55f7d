// SPDX-License-Identifier: Apache-2.0
// The node API's write endpoints: sending a message (answered from the
// commit callback), redriving and discarding dead letters.
#include <boost/json.hpp>

#include "cairn/plain_json.hpp"
#include "internal/node_api_impl.hpp"

namespace cairn::api {

namespace json = boost::json;

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
  auto& obj = body.as_object();
  auto* type = obj.if_contains("type");
  if (type == nullptr || !type->is_string() || type->as_string().empty())
    return problem(400, "invalid_body", "\"type\" must be a non-empty string");
  auto* key = obj.if_contains("idempotency_key");
  if (key != nullptr && !key->is_string())
    return problem(400, "invalid_body", "\"idempotency_key\" must be a string");
  env.from = "external";
  env.to = id;
  env.type = std::string{type->as_string()};
  env.format = static_cast<uint8_t>(payload_format::json);
  auto* payload = obj.if_contains("payload");
  // Stored as the client wrote its numbers (Boost.JSON would turn 12.5 into 1.25E1).
  env.payload = payload != nullptr ? serialize_plain(*payload) : "null";
  if (key != nullptr)
    env.idempotency_key = std::string{key->as_string()};
  env.traceparent = req.header("traceparent");
  // A kind that declares its message types gets only those, decoded here:
  // a bad one is refused before anything is persisted.
  auto codec = rt_.edge_codec(kind_of(id), env.type);
  if (!codec) {
    if (code_of(codec.error()) == errc::invalid_argument)
      return problem(400, "unknown_message_type", render(codec.error()));
    return from_error(codec.error());
  }
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
                     json::object o;
                     o["id"] = *r;
                     respond(json_response(202, o));
                   });
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
