// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "cairn/codec.hpp"
#include "cairn/envelope.hpp"
#include "cairn/error.hpp"

namespace cairn {

class context;
class durable_actor;

/// The typed interface of an actor kind: the message types it accepts. Like
/// CAF's `typed_actor`, sending a type outside the list through an
/// `actor_ref` is a compile error.
template <class... Ms>
struct interface {
  /// True if `M` is one of the interface's message types `Ms`.
  template <class M>
  static constexpr bool accepts = (std::is_same_v<M, Ms> || ...);
};

/// An address of a virtual actor with a typed interface.
template <class Interface>
struct actor_ref {
  std::string id; ///< the receiving actor's id (`kind/key`)
};

/// What one step did, collected by `context` and committed atomically with
/// the removal of the handled message. A plain value.
struct step_effects {
  /// A message the step sends: now, or later as a durable timer.
  struct outgoing {
    envelope env;       ///< the message, addressed and with its id set
    int64_t due_ms = 0; ///< > 0: a durable timer, else an immediate send
    bool keyed = false; ///< the sender chose its idempotency key: deduplicated
  };
  /// An event: journaled by `emit`, or published on a topic.
  struct event {
    std::string type;    ///< the event's type tag
    std::string payload; ///< the encoded event
  };
  std::vector<outgoing> sends; ///< messages and timers, in the order the handler made them
  std::vector<event> events;   ///< events for this actor's journal, in emit order
  /// This step's span id: the parent span of every message it sends, so a
  /// trace links each step to the step that caused it.
  std::string span_id;
  int64_t start_us = 0; ///< when the step started (its span's start)
  int64_t end_us = 0;   ///< when its handler returned, if it did not defer (its span's end)
  /// Set by `context::descend_from`: the traceparent this step's sends
  /// descend from instead of the step itself.
  std::string descend_from;
  std::vector<std::pair<std::string, event>> published; ///< topic, event
  /// Run after the step committed, never if it did not (not stored).
  std::vector<std::function<void()>> after_commit;
  /// The rest of the handler, to run off the actor threads (`context::defer`).
  std::function<caf::error(context&)> deferred;
  /// The first event the actor could not apply: it fails the step.
  caf::error apply_failure;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_effects::event& x) {
  return f(caf::meta::type_name("cairn.event"), x.type, x.payload);
}

/// The handle a handler uses to act: send, emit, schedule, publish, reply.
/// Valid only during the handler call; not thread-safe. Nothing it records
/// takes effect unless the step commits, and then all of it does.
class context {
public:
  /// Made by the runtime for one step: `self` handles `msg`, and what the
  /// handler does is recorded into `out`. `stopping` is the node's stop flag
  /// (null: never stopping).
  context(durable_actor& self, const envelope& msg, step_effects& out,
          const std::atomic<bool>* stopping = nullptr)
    : self_(self), msg_(msg), out_(out), stopping_(stopping) {}

  /// The id of the actor handling the message.
  const std::string& self() const noexcept { return msg_.to; }

  /// The message being handled.
  const envelope& message() const noexcept { return msg_; }

  /// An idempotency key for external side effects of this step: stable when
  /// the step re-runs after a crash or a retry.
  std::string idempotency_key() const { return msg_.id; }

  /// Sends `m` to the actor `to` (committed with this step).
  template <class M>
  void send(std::string to, const M& m) {
    send_raw(std::move(to), type_tag<M>::value, encode(m), payload_format::binary, {});
  }

  /// Sends `m` to `to` at most once per `idempotency_key` (within the dedupe
  /// window): a later send with the same key to the same receiver, from any
  /// step of any actor, is dropped. Use a business key (`order/o42/charge`)
  /// so that two requests for one thing do one thing.
  template <class M>
  void send(std::string to, const M& m, std::string idempotency_key) {
    send_raw(std::move(to), type_tag<M>::value, encode(m), payload_format::binary, {},
             std::move(idempotency_key));
  }

  /// Sends `m` through a typed reference; a type outside its interface does not compile.
  template <class Interface, class M>
  void send(const actor_ref<Interface>& to, const M& m) {
    static_assert(Interface::template accepts<M>, "the receiver's interface does not accept M");
    send(to.id, m);
  }

  /// Sends `m` back to the sender of the current message.
  template <class M>
  void reply(const M& m) {
    send(msg_.from, m);
  }

  /// Sets a durable timer: `m` reaches `to` after `delay`, once, across restarts.
  template <class M>
  void schedule(std::chrono::milliseconds delay, std::string to, const M& m) {
    send_raw(std::move(to), type_tag<M>::value, encode(m), payload_format::binary, delay);
  }

  /// Appends `e` to this actor's journal and applies it to its state now.
  template <class E>
  void emit(const E& e) {
    emit_raw(type_tag<E>::value, encode(e));
  }

  /// Publishes `e` on `topic`; every subscriber receives it in order.
  template <class E>
  void publish(std::string topic, const E& e) {
    out_.published.emplace_back(std::move(topic),
                                step_effects::event{type_tag<E>::value, encode(e)});
  }

  /// Untyped send, for JSON payloads and bridges; with `idempotency_key`
  /// deduplicated like `send(to, m, key)` (not for timers).
  void send_raw(std::string to, std::string type, std::string payload, payload_format fmt,
                std::chrono::milliseconds delay, std::string idempotency_key = {});

  /// Untyped emit.
  void emit_raw(std::string type, std::string payload);

  /// The messages this step sends from now on descend from `traceparent`
  /// (a W3C value: their parent is its span) instead of from this step:
  /// for work that belongs to another trace than the message that woke the
  /// actor (a plan that an approval, decided in the decider's own trace,
  /// lets go on). An invalid value is ignored.
  void descend_from(std::string traceparent) { out_.descend_from = std::move(traceparent); }

  /// Runs `fn` once this step is durably committed (to answer a waiting
  /// caller, say); never if the step fails. It runs on the commit thread:
  /// keep it short and never wait there. Not durable itself: after a crash
  /// the re-run step registers it again.
  void after_commit(std::function<void()> fn) { out_.after_commit.push_back(std::move(fn)); }

  /// Finishes this step off the actor threads: once the handler returns,
  /// `rest` runs on the runtime's bounded pool for blocking work (a child
  /// process, a network call, a question to a client) with a context for the
  /// same step. The step commits when `rest` returns, exactly as if the
  /// handler had done everything itself; meanwhile this actor handles
  /// nothing else and no scheduler thread waits. `rest` must watch
  /// `stopping()` and return soon once it is true. One `defer` per step.
  void defer(std::function<caf::error(context&)> rest) { out_.deferred = std::move(rest); }

  /// True once the node is stopping: deferred work should give up (its step
  /// does not commit and runs again after a restart).
  bool stopping() const noexcept { return stopping_ && stopping_->load(); }

private:
  durable_actor& self_;
  const envelope& msg_;
  step_effects& out_;
  const std::atomic<bool>* stopping_;
};

/// The base of every durable actor. One instance per activation; the runtime
/// calls it from one thread at a time. Handlers must be deterministic given
/// state and message: state is rebuilt by replaying `apply` over the journal.
class durable_actor {
public:
  virtual ~durable_actor();

  /// Handles one message. Returning an error (or throwing) fails the step:
  /// nothing it did is committed, the state is rebuilt from storage, and the
  /// message is retried under the kind's retry policy.
  virtual caf::error handle(context& ctx, const envelope& msg) = 0;

  /// Applies one journaled event to the state. An event this actor cannot
  /// decode or does not know is an error, never skipped: replaying past it
  /// would silently rebuild a different state (the runtime stops the actor).
  virtual caf::error apply(std::string_view type, std::string_view payload) = 0;

  /// The state as bytes for a snapshot, or nothing if snapshots are unsupported.
  virtual std::optional<std::string> snapshot() const { return std::nullopt; }

  /// Restores state written by `snapshot()`.
  virtual caf::error restore(std::string_view bytes) { return {}; }

  /// The state as a JSON object for operators (the HTTP API and CLI), or
  /// nothing if this actor does not show its state.
  virtual std::optional<std::string> describe() const { return std::nullopt; }
};

/// A durable actor whose state is a struct with `inspect()` and whose
/// handlers are registered per message and event type:
///
///     struct counter : stateful_actor<counter_state> {
///       counter() {
///         on<add>([this](context& ctx, const add& m) {
///           ctx.emit(added{m.n});
///           return caf::error{};
///         });
///         on_event<added>([this](const added& e) { state.total += e.n; });
///       }
///     };
template <class State>
class stateful_actor : public durable_actor {
public:
  /// The actor's state. Change it only in `on_event` handlers, so that
  /// replaying the journal rebuilds it; it is snapshotted whole.
  State state;

  caf::error handle(context& ctx, const envelope& msg) override {
    auto& table =
      msg.format == static_cast<uint8_t>(payload_format::json) ? json_handlers_ : handlers_;
    auto it = table.find(msg.type);
    if (it == table.end())
      return make_error(errc::invalid_argument, "actor " + msg.to + " does not accept "
                                                  + (&table == &json_handlers_ ? "JSON " : "")
                                                  + "message type " + msg.type);
    return it->second(ctx, msg);
  }

  caf::error apply(std::string_view type, std::string_view payload) override {
    auto it = appliers_.find(std::string{type});
    if (it == appliers_.end())
      return make_error(errc::corrupt_record, "unknown event type " + std::string{type});
    return it->second(payload);
  }

  std::optional<std::string> snapshot() const override { return encode(state); }

  caf::error restore(std::string_view bytes) override {
    auto s = decode<State>(bytes);
    if (!s)
      return std::move(s.error());
    state = std::move(*s);
    return {};
  }

protected:
  /// Handles messages of type `M` (binary payload): `f(context&, const M&)`
  /// returns a `caf::error`. A payload that does not decode fails the step.
  template <class M, class F>
  void on(F f) {
    handlers_[type_tag<M>::value] = [f](context& ctx, const envelope& e) -> caf::error {
      auto m = decode<M>(e.payload);
      if (!m)
        return std::move(m.error());
      return f(ctx, *m);
    };
  }

  /// Handles messages of `type` whose payload is JSON text (from the HTTP
  /// API and tools); `f(context&, std::string_view json)` parses it.
  template <class F>
  void on_json(std::string type, F f) {
    json_handlers_[std::move(type)] = [f](context& ctx, const envelope& e) -> caf::error {
      return f(ctx, std::string_view{e.payload});
    };
  }

  /// Applies journaled events of type `E`: `f(const E&)` changes `state`,
  /// both when the event is emitted and when the journal is replayed.
  template <class E, class F>
  void on_event(F f) {
    appliers_[type_tag<E>::value] = [f](std::string_view bytes) -> caf::error {
      auto e = decode<E>(bytes);
      if (!e)
        return make_error(errc::corrupt_record, std::string{"cannot decode event "}
                                                  + type_tag<E>::value + ": " + render(e.error()));
      f(*e);
      return {};
    };
  }

private:
  std::unordered_map<std::string, std::function<caf::error(context&, const envelope&)>> handlers_;
  std::unordered_map<std::string, std::function<caf::error(context&, const envelope&)>>
    json_handlers_;
  std::unordered_map<std::string, std::function<caf::error(std::string_view)>> appliers_;
};

} // namespace cairn
