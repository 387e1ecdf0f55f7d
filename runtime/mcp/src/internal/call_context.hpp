// SPDX-License-Identifier: Apache-2.0
// The `call` a tool handler sees. Not a public header.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "cairn/actor.hpp"
#include "cairn/mcp/server.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

/// The `call` a handler sees: live plumbing (progress, logs, questions to
/// the client) when the caller is connected, quiet no-ops when it is not
/// (a task re-running after a restart). Used by one handler on the thread
/// running its deferred step; `cancelled()` may be read from any thread.
class call_context final : public call {
public:
  call_context(context& ctx, const json::object& args, std::string key,
               std::shared_ptr<live_call> live, json::object caps, json::value progress_token,
               json::object answers, bool stateless)
    : ctx_(ctx), args_(args), key_(std::move(key)), live_(std::move(live)), caps_(std::move(caps)),
      progress_token_(std::move(progress_token)), answers_(std::move(answers)),
      stateless_(stateless) {}

  const json::object& arguments() const override { return args_; }
  const std::string& idempotency_key() const override { return key_; }
  std::string traceparent() const override;
  const json::object& client_capabilities() const override { return caps_; }
  bool cancelled() const override;
  void set_stopping(const std::atomic<bool>* flag) { stopping_ = flag; }
  void set_caller(json::object caller) { caller_ = std::move(caller); }
  const json::object& caller() const override { return caller_; }
  void progress(double done, std::optional<double> total, std::string message) override;
  void log(std::string level, json::value data, std::string logger) override;
  void send(std::string to, std::string type, json::value payload) override;
  void notify(std::string method, json::object params) override;
  caf::expected<json::value> ask(std::string key, std::string method, json::object params) override;
  caf::expected<json::object> ask_all(json::object requests) override;

  /// The questions (`key -> {method, params}`) this stateless round asked
  /// without an answer. Not empty: the round ends with `input_required`
  /// (a task waits for `tasks/update`), whatever the handler returned.
  const json::object& unanswered() const { return unanswered_; }

private:
  /// A server-to-client request on the call's stream (sessions); waits for
  /// the answer, the call's cancellation or five minutes.
  caf::expected<json::value> ask_live(const std::string& method, json::object params);
  std::shared_ptr<exchange> ex() const { return live_ ? live_->ex : nullptr; }

  context& ctx_;
  const json::object& args_;
  std::string key_;
  std::shared_ptr<live_call> live_;
  json::object caps_;
  json::value progress_token_;
  json::object answers_;
  bool stateless_;
  const std::atomic<bool>* stopping_ = nullptr;
  json::object unanswered_;
  json::object caller_;
};

} // namespace cairn::mcp
