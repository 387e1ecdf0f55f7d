// SPDX-License-Identifier: Apache-2.0
// The node API's write endpoints: sending a message (answered from the
// commit callback), redriving and discarding dead letters.
#include <boost/json.hpp>

#include "cairn/plain_json.hpp"
#include "internal/message_reader.hpp"
#include "internal/node_api_impl.hpp"

namespace cairn::api {

namespace json = boost::json;

std::optional<http_response> node_api::message_envelope(const http_request& req,
                                                        const std::string& id, envelope& env) {
  auto ctype = req.header("content-type");
  if (ctype.rfind("application/json", 0) != 0)
    return problem(415, "unsupported_media_type",
                   "send the message as application/json, not '" + ctype + "'");
  if (scan_envelope(rt_, req.body, id, env)) {
    env.traceparent = req.header("traceparent");
    return std::nullopt;
  }
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
  auto bad = envelope_of(rt_, members_of(body.as_object()), id, env);
  env.traceparent = req.header("traceparent");
  return bad;
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
  auto read = read_batch(rt_, req.body, ndjson, req.header("traceparent"));
  if (auto* refused = std::get_if<http_response>(&read))
    return respond(std::move(*refused));
  auto& batch = std::get<batch_messages>(read);
  auto& envs = batch.envs;
  auto& problems = batch.problems;
  auto& slot = batch.slot;
  // Runs on the commit thread: the answer is written as text, straight into
  // its body, not built as a JSON tree or as a string per message first.
  auto answer = [respond, problems = std::move(problems), slot = std::move(slot),
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
