// SPDX-License-Identifier: Apache-2.0
// Messages sent to the node API, read into envelopes (message_reader.hpp).
// A batch is scanned straight from its text where it can be; whatever the
// scan is unsure of goes through the JSON tree, which words every refusal.
#include "internal/message_reader.hpp"

#include <boost/json.hpp>

#include "cairn/json_text.hpp"
#include "cairn/plain_json.hpp"
#include "internal/problem.hpp"

namespace cairn::api {

namespace json = boost::json;
using cairn::json::text_cursor;

namespace {

constexpr size_t max_batch = 1000;

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

/// A message object's members as the scan found them: the strings
/// unescaped, the payload as its text.
struct scanned_message {
  std::string_view text; ///< the whole object
  std::string to, type, key, traceparent;
  bool has_to = false, has_type = false, has_key = false, has_trace = false;
  std::string_view payload; ///< empty: absent
  /// The payload as its kind's codec stores it, when the scan decoded it in
  /// place (`to` and `type` came before it).
  std::string decoded;
  bool has_decoded = false;
  /// Every member the node reads is a string (the payload aside) and none
  /// is repeated: the message can be built without the tree.
  bool plain = true;
};

/// For plain messages, the codec that reads a payload from text, if the
/// kind has one. A batch mostly sends one type to one kind: the last one is
/// kept, and looked up again only when the kind or the type changes.
class codec_cache {
public:
  explicit codec_cache(runtime& rt) : rt_(rt) {}

  /// The codec for a message of `type` to `to`; null if none reads text.
  const message_codec* text_codec(const std::string& to, const std::string& type) {
    if (type.empty() || !valid_actor_id(to))
      return nullptr;
    auto kind = kind_of(to);
    if (!known_ || kind != kind_ || type != type_) {
      auto codec = rt_.edge_codec(kind, type);
      // The text path stands in for `from_json_value`: a codec that cleared
      // that one (to add checks to `from_json`, as its comment asks) reads
      // through the tree, where its checks run, even if it kept this one.
      codec_ = codec && *codec != nullptr && (*codec)->from_json_text && (*codec)->from_json_value
                   && !(*codec)->json_passthrough
                 ? *codec
                 : nullptr;
      kind_.assign(kind.data(), kind.size());
      type_ = type;
      known_ = true;
    }
    return codec_;
  }

private:
  runtime& rt_;
  bool known_ = false;
  std::string kind_, type_;
  const message_codec* codec_ = nullptr;
};

/// Scans the message object at the cursor; false if the cursor declined.
/// With `codecs`, a payload after a plain `to` and `type` is decoded in
/// place by its kind's codec, not scanned twice.
bool scan_message(text_cursor& in, scanned_message& m, codec_cache* codecs) {
  if (!in.skip_ws())
    return in.decline();
  auto start = in.pos();
  if (!in.open('{'))
    return false;
  if (!in.at('}')) {
    std::string scratch;
    do {
      std::string_view k;
      if (!in.member_key(k, scratch))
        return false;
      std::string* value = nullptr;
      bool* has = nullptr;
      if (k == "to") {
        value = &m.to, has = &m.has_to;
      } else if (k == "type") {
        value = &m.type, has = &m.has_type;
      } else if (k == "idempotency_key") {
        value = &m.key, has = &m.has_key;
      } else if (k == "traceparent") {
        value = &m.traceparent, has = &m.has_trace;
      } else if (k == "payload") {
        m.plain = m.plain && m.payload.empty();
        in.skip_ws();
        auto from = in.pos();
        const message_codec* codec = nullptr;
        if (codecs != nullptr && m.plain && m.has_to && m.has_type)
          codec = codecs->text_codec(m.to, m.type);
        size_t took = codec ? codec->from_json_text(in.text().substr(from), m.decoded) : 0;
        m.has_decoded = took != 0;
        if (took != 0)
          in.seek(from + took);
        else if (!in.skip_value())
          return false;
        m.payload = in.text().substr(from, in.pos() - from);
        continue;
      }
      if (value == nullptr) {
        if (!in.skip_value()) // a member the node does not read
          return false;
        continue;
      }
      m.plain = m.plain && !*has;
      *has = true;
      if (in.at('"')) {
        if (!in.string(*value))
          return false;
      } else {
        m.plain = false; // not a string: the tree's reader words the refusal
        if (!in.skip_value())
          return false;
      }
    } while (in.take(','));
  }
  if (!in.close('}'))
    return false;
  m.text = in.text().substr(start, in.pos() - start);
  return true;
}

/// Fills `env` for actor `to` from a scanned message, as `envelope_of` would
/// (the traceparent aside), if the message is plain and its kind's codec
/// reads its payload from text; false otherwise (`to` is then left as is).
bool build_scanned(codec_cache& codecs, scanned_message& m, std::string&& to, envelope& env) {
  if (!m.plain || !m.has_type || m.type.empty() || m.payload.empty())
    return false;
  if (m.has_decoded) {
    env.payload = std::move(m.decoded); // by the codec of this `to` and `type`
  } else {
    auto* codec = codecs.text_codec(to, m.type);
    if (codec == nullptr || codec->from_json_text(m.payload, env.payload) != m.payload.size())
      return false;
  }
  env.from = "external";
  env.to = std::move(to);
  env.type = std::move(m.type);
  env.format = static_cast<uint8_t>(payload_format::binary);
  if (m.has_key)
    env.idempotency_key = std::move(m.key);
  return true;
}

/// Builds a batch's messages, each one from the scan or from the tree.
class batch_builder {
public:
  batch_builder(runtime& rt, const std::string& header_trace)
    : rt_(rt), header_trace_(header_trace), codecs_(rt) {}

  batch_messages& out() { return out_; }
  codec_cache& codecs() { return codecs_; }

  /// A message read through the JSON tree (as the node always did).
  void add_tree(const json::value& item) {
    auto& problem_of = out_.problems.emplace_back();
    if (!item.is_object()) {
      problem_of = problem(400, "invalid_body", "a message must be a JSON object");
      return;
    }
    auto m = members_of(item.as_object());
    auto* to = m.to;
    if (to == nullptr || !to->is_string() || !valid_actor_id(std::string_view{to->as_string()})) {
      problem_of = problem(400, "invalid_argument", "\"to\" must name an actor as kind/key");
      return;
    }
    // Made in place: an envelope is a dozen strings, each move of it a dozen moves.
    auto& env = out_.envs.emplace_back();
    if (auto bad = envelope_of(rt_, m, std::string{to->as_string()}, env)) {
      problem_of = std::move(bad);
      out_.envs.pop_back();
      return;
    }
    auto* tp = m.traceparent;
    env.traceparent = tp && tp->is_string() ? std::string{tp->as_string()} : header_trace_;
    out_.slot.push_back(out_.problems.size() - 1);
  }

  /// A refusal for a message that is not JSON.
  void add_problem(http_response p) { out_.problems.emplace_back(std::move(p)); }

  /// A scanned message, if it is plain and its kind's codec reads its
  /// payload from text; false (nothing added) if it must go through the tree.
  bool add_scanned(scanned_message& m) {
    if (!m.has_to || !valid_actor_id(m.to))
      return false;
    auto& env = out_.envs.emplace_back();
    if (!build_scanned(codecs_, m, std::move(m.to), env)) {
      out_.envs.pop_back();
      return false;
    }
    env.traceparent = m.has_trace ? std::move(m.traceparent) : header_trace_;
    out_.problems.emplace_back();
    out_.slot.push_back(out_.problems.size() - 1);
    ++out_.scanned;
    return true;
  }

  /// A scanned message the tree reads: parsed alone (the scan checked it).
  bool add_parsed(const scanned_message& m, json::monotonic_resource& arena) {
    boost::system::error_code ec;
    auto v = json::parse(json::string_view{m.text.data(), m.text.size()}, ec, &arena);
    if (ec)
      return false;
    add_tree(v);
    return true;
  }

  void reset() { out_ = batch_messages{}; }

private:
  runtime& rt_;
  const std::string& header_trace_;
  codec_cache codecs_;
  batch_messages out_;
};

std::variant<batch_messages, http_response> check_count(batch_messages out) {
  if (out.problems.empty())
    return problem(400, "invalid_body", "the batch has no message");
  if (out.problems.size() > max_batch)
    return problem(413, "too_many_messages",
                   std::to_string(out.problems.size()) + " messages in one batch; at most "
                     + std::to_string(max_batch));
  return out;
}

/// Scans a JSON array of messages; false if the scan declined somewhere
/// (the caller reads the whole body through the tree).
bool scan_array(std::string_view body, batch_builder& b, json::monotonic_resource& arena) {
  text_cursor in{body};
  if (!in.open('[') || in.at(']'))
    return false; // not an array, or an empty one: the tree's answer
  // Made in place, never moved: about one message per 64 bytes at most.
  b.out().envs.reserve(std::min(max_batch, body.size() / 64 + 1));
  size_t count = 0;
  do {
    if (++count > max_batch)
      return false;
    scanned_message m;
    if (!scan_message(in, m, &b.codecs()))
      return false;
    if (!b.add_scanned(m) && !b.add_parsed(m, arena))
      return false;
  } while (in.take(','));
  return in.close(']') && in.at_end();
}

} // namespace

message_members members_of(const json::object& obj) {
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

std::optional<http_response> envelope_of(runtime& rt, const message_members& m, std::string id,
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
  auto codec = rt.edge_codec(kind_of(env.to), env.type);
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

bool scan_envelope(runtime& rt, std::string_view body, const std::string& id, envelope& env) {
  text_cursor in{body};
  scanned_message m;
  if (!scan_message(in, m, nullptr) || !in.at_end())
    return false;
  auto to = id;
  codec_cache codecs{rt};
  if (build_scanned(codecs, m, std::move(to), env))
    return true;
  env = envelope{}; // as the tree's reader finds it
  return false;
}

std::variant<batch_messages, http_response> read_batch(runtime& rt, std::string_view body,
                                                       bool ndjson, const std::string& header_trace,
                                                       bool scan) {
  // The trees' memory is one arena, released at once when this returns.
  json::monotonic_resource arena;
  batch_builder b{rt, header_trace};
  if (ndjson) {
    size_t at = 0, line = 0;
    while (at < body.size()) {
      auto end = body.find('\n', at);
      if (end == std::string_view::npos)
        end = body.size();
      auto text = body.substr(at, end - at);
      at = end + 1;
      ++line;
      if (text.find_first_not_of(" \t\r") == std::string_view::npos)
        continue; // a blank line
      if (scan) {
        text_cursor in{text};
        scanned_message m;
        if (scan_message(in, m, &b.codecs()) && in.at_end() && b.add_scanned(m))
          continue;
      }
      boost::system::error_code ec;
      auto v = json::parse(json::string_view{text.data(), text.size()}, ec, &arena);
      if (ec)
        b.add_problem(
          problem(400, "malformed_json",
                  "line " + std::to_string(line) + " is not valid JSON: " + ec.message()));
      else
        b.add_tree(v);
    }
    return check_count(std::move(b.out()));
  }
  if (scan) {
    if (scan_array(body, b, arena))
      return check_count(std::move(b.out()));
    b.reset(); // the tree reads it all again, and words what is wrong
  }
  boost::system::error_code ec;
  auto v = json::parse(json::string_view{body.data(), body.size()}, ec, &arena);
  if (ec)
    return problem(400, "malformed_json", "body is not valid JSON: " + ec.message());
  if (!v.is_array())
    return problem(400, "invalid_body",
                   "body must be a JSON array of messages, each {\"to\", \"type\", "
                   "\"payload\"}");
  if (v.as_array().empty())
    return check_count(batch_messages{});
  if (v.as_array().size() > max_batch)
    return problem(413, "too_many_messages",
                   std::to_string(v.as_array().size()) + " messages in one batch; at most "
                     + std::to_string(max_batch));
  for (const auto& item : v.as_array())
    b.add_tree(item);
  return std::move(b.out());
}

} // namespace cairn::api
