// SPDX-License-Identifier: Apache-2.0
// Tasks of both revisions: a task is a call actor, read from storage, so
// it answers after a restart. 2026-07-28: tasks/get, tasks/update and
// tasks/cancel (the io.modelcontextprotocol/tasks extension); 2025-11-25:
// tasks/get, tasks/result, tasks/list and tasks/cancel (experimental).
#include <algorithm>

#include "cairn/error.hpp"
#include "cairn/text_codec.hpp"
#include "internal/call_actor.hpp"
#include "internal/request_state.hpp"
#include "internal/server_impl.hpp"
#include "internal/tasks.hpp"

namespace cairn::mcp {

namespace {

std::string fmt_ms(int64_t ms) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03d", static_cast<int>(ms));
  return buf;
}

std::string iso8601(int64_t ms) {
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string{buf} + "." + fmt_ms(ms % 1000) + "Z";
}

int64_t created_ms_of(std::string_view task_id) {
  auto slash = task_id.rfind('/');
  if (slash == std::string_view::npos || task_id.size() < slash + 10)
    return 0;
  int64_t t = 0;
  for (char c : task_id.substr(slash + 1, 9))
    t = t * 36 + (c <= '9' ? c - '0' : c - 'a' + 10);
  return t;
}

constexpr int64_t task_ttl_ms = 3'600'000;

/// A JSON payload of a call record (a result, an error, questions), passed
/// to the client as it is.
json::value payload_of(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value{} : v;
}

} // namespace

bool has_tasks_extension(const json::object& caps) {
  auto e = caps.if_contains("extensions");
  return e && e->is_object() && e->as_object().contains(tasks_ext);
}

json::object tasks_required_data() {
  return json::object{{"requiredCapabilities",
                       json::object{{"extensions", json::object{{tasks_ext, json::object{}}}}}}};
}

/// The 2025-11-25 shape of a task (`ttl`, `pollInterval`).
json::object session_task(json::object fields) {
  fields["ttl"] = fields["ttlMs"];
  fields["pollInterval"] = fields["pollIntervalMs"];
  fields.erase("ttlMs");
  fields.erase("pollIntervalMs");
  return fields;
}

json::object task_fields(const std::string& id, const char* status, int64_t updated_ms) {
  auto created = created_ms_of(id);
  return json::object{{"taskId", id},
                      {"status", status},
                      {"createdAt", iso8601(created)},
                      {"lastUpdatedAt", iso8601(std::max(created, updated_ms))},
                      {"ttlMs", task_ttl_ms},
                      {"pollIntervalMs", 200}};
}

void server::impl::task_method(const std::shared_ptr<exchange>& ex) {
  const auto& m = ex->method;
  if (ex->stateless() && (m == "tasks/result" || m == "tasks/list"))
    return ex->fail(rpc::method_not_found, "method not found: " + m);
  if (!ex->stateless())
    return session_task_method(ex);
  if (!has_tasks_extension(ex->client_capabilities))
    return ex->fail(rpc::missing_capability,
                    m + " needs the " + std::string{tasks_ext} + " extension",
                    tasks_required_data());
  auto tid = ex->params.if_contains("taskId");
  if (!tid || !tid->is_string())
    return ex->fail(rpc::invalid_params, m + " needs a string 'taskId'");
  std::string id{tid->as_string()};
  auto kind = std::string{kind_of(id)};
  if (kind.rfind("tool.", 0) != 0 || !find_tool(kind.substr(5)) || !valid_actor_id(id)
      || !owns(ex->token, id))
    return ex->fail(rpc::invalid_params, "unknown task: " + id);
  auto rec = task_record(id);
  if (!rec) {
    if (code_of(rec.error()) == errc::not_found)
      return ex->fail(rpc::invalid_params, "unknown task: " + id);
    return ex->fail(rpc::internal_error, render(rec.error()));
  }
  if (m == "tasks/get") {
    auto status = rec->state();
    auto o = task_fields(id, to_string(status), rec->updated_ms);
    o["resultType"] = "complete";
    if (status == call_status::input_required && !rec->input_requests.empty())
      o["inputRequests"] = payload_of(rec->input_requests);
    if (status == call_status::failed && !rec->error.empty()) {
      o["error"] = payload_of(rec->error);
    } else if (status == call_status::completed || status == call_status::failed) {
      // A tool error is a completed task whose result says isError.
      o["status"] = "completed";
      auto result = payload_of(rec->result);
      if (!result.is_object())
        result = json::object{};
      result.as_object()["resultType"] = "complete";
      o["result"] = std::move(result);
    }
    return ex->reply(std::move(o));
  }
  if (m == "tasks/cancel") {
    {
      std::lock_guard lock{calls_mu};
      if (auto it = calls.find(id); it != calls.end())
        it->second->cancelled.store(true);
    }
    envelope env;
    env.from = "mcp";
    env.to = id;
    env.type = cancel_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = "{}";
    rt.accept_async(std::move(env), [ex](caf::expected<std::string> r) {
      if (!r)
        return ex->fail(rpc::internal_error, render(r.error()));
      ex->reply(json::object{{"resultType", "complete"}});
    });
    return;
  }
  if (m == "tasks/update") {
    json::object responses;
    if (auto ir = ex->params.if_contains("inputResponses"); ir && ir->is_object())
      responses = ir->as_object();
    envelope env;
    env.id = "u" + new_call_id();
    env.from = "mcp";
    env.to = id;
    env.type = input_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = json::serialize(json::object{{"inputResponses", responses}});
    // Answer once the task has stored the answers, so a tasks/get right
    // after this sees them.
    auto ack_id = env.id;
    auto ticket = std::make_shared<std::atomic<deadline_queue::ticket>>(0);
    {
      std::lock_guard lock{calls_mu};
      if (acks.size() >= max_waiting_acks)
        return ex->fail(rpc::internal_error,
                        "too many tasks/update requests are waiting (the limit is "
                          + std::to_string(max_waiting_acks) + "); retry later",
                        json::object{{"taskId", id}, {"retryable", true}});
      acks[ack_id] = [this, ex, ticket] {
        if (auto t = ticket->exchange(0))
          timers.cancel(t); // answered: its deadline holds no room
        ex->reply(json::object{{"resultType", "complete"}});
      };
    }
    // Takes the entry out; false if the task answered first.
    auto drop = [this, ack_id, ticket] {
      {
        std::lock_guard lock{calls_mu};
        if (acks.erase(ack_id) == 0)
          return false;
      }
      if (auto t = ticket->exchange(0))
        timers.cancel(t);
      return true;
    };
    // The task stores the answers soon; if it never does (its message was
    // dead-lettered), the wait ends at call_timeout and the entry goes.
    auto expire = [drop, ex, id] {
      if (drop())
        ex->fail(rpc::internal_error,
                 "task " + id + " did not store the answers in time; poll tasks/get",
                 json::object{{"taskId", id}, {"retryable", true}});
    };
    auto t = timers.schedule(deadline_queue::clock::now() + opts.call_timeout, expire);
    if (t == 0) {
      drop();
      return ex->fail(rpc::internal_error, "the server cannot wait for task " + id + " now",
                      json::object{{"taskId", id}, {"retryable", true}});
    }
    ticket->store(t);
    rt.accept_async(std::move(env), [drop, ex](caf::expected<std::string> r) {
      if (!r && drop())
        ex->fail(rpc::internal_error, render(r.error()));
    });
    return;
  }
  ex->fail(rpc::method_not_found, "method not found: " + m);
}

std::string server::impl::owner_tag(const mcp_token* token) const {
  if (!token)
    return "open";
  // An HMAC of a fixed label under the secret: names the token, reveals
  // nothing of it, stays the same across restarts.
  return hmac_hex(token->secret, "cairn task owner").substr(0, 16);
}

bool server::impl::owns(const mcp_token* token, std::string_view id) const {
  auto dash = id.rfind('-');
  return dash != std::string_view::npos
         && cairn::constant_time_equal(owner_tag(token), id.substr(dash + 1));
}

caf::expected<call_record> server::impl::task_record(const std::string& id) {
  auto kind = std::string{kind_of(id)};
  if (!valid_actor_id(id) || kind.rfind("tool.", 0) != 0 || !find_tool(kind.substr(5)))
    return make_error(errc::not_found, "no task " + id);
  // The call actor snapshots its typed record with every event, in the same
  // write: this one row is the task's state. The runtime's snapshot row is
  // the journal position (8 bytes) followed by `snapshot()`'s bytes.
  auto row = rt.store().get(column::snapshot, id);
  if (!row)
    return std::move(row.error());
  if (*row && (*row)->size() >= 8) {
    auto rec = decode<call_record>(std::string_view{**row}.substr(8));
    if (!rec)
      return make_error(errc::corrupt_record, "task " + id + ": " + render(rec.error()));
    return std::move(*rec);
  }
  // No snapshot: the call has no event yet (its message waits or runs), or
  // it was journaled before calls snapshotted every event.
  auto d = rt.describe(id);
  if (!d)
    return std::move(d.error());
  if (d->journal_length == 0)
    return call_record{};
  if (auto rec = replay_call(*this, kind.substr(5), id))
    return std::move(*rec);
  return make_error(errc::corrupt_record, "task " + id + ": its journal cannot be read");
}

// 2025-11-25 (experimental tasks): tasks/get, tasks/result, tasks/list and
// tasks/cancel answer from the call actors' journals.
void server::impl::session_task_method(const std::shared_ptr<exchange>& ex) {
  const auto& m = ex->method;
  if (ex->revision != session_revision)
    return ex->fail(rpc::method_not_found, "method not found: " + m);
  auto view = [](const std::string& id, const call_record& rec) {
    auto o = session_task(task_fields(id, to_string(rec.state()), rec.updated_ms));
    if (!rec.message.empty())
      o["statusMessage"] = rec.message;
    return o;
  };
  if (m == "tasks/list") {
    if (opts.tokens.empty()) // nothing to bind tasks to: not offered
      return ex->fail(rpc::method_not_found, "tasks/list needs bearer tokens (mcp_tokens)");
    json::array out;
    std::vector<std::string> kinds;
    {
      std::shared_lock lock{mu};
      for (auto& [name, t] : tools)
        if (allowed(ex->token, name) && t->spec.tasks != task_support::forbidden)
          kinds.push_back("tool." + name);
    }
    std::string after;
    if (auto c = ex->params.if_contains("cursor"); c && c->is_string())
      after = std::string{c->as_string()};
    std::vector<std::string> ids;
    for (auto& k : kinds) {
      auto r = rt.actor_ids(k, after > k ? after : std::string{}, opts.page_size + 1);
      if (!r)
        return ex->fail(rpc::internal_error, render(r.error()));
      ids.insert(ids.end(), r->begin(), r->end());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::remove_if(ids.begin(), ids.end(), [&](auto& i) { return i <= after; }),
              ids.end());
    std::string last;
    ids.erase(std::remove_if(ids.begin(), ids.end(), [&](auto& i) { return !owns(ex->token, i); }),
              ids.end());
    for (auto& id : ids) {
      if (out.size() == opts.page_size)
        break;
      auto rec = task_record(id);
      if (!rec) { // gone meanwhile (or unreadable): not listed
        ignore_error(rec.error());
        continue;
      }
      out.push_back(view(id, *rec));
      last = id;
    }
    json::object r{{"tasks", std::move(out)}};
    if (ids.size() > opts.page_size)
      r["nextCursor"] = last;
    return ex->reply(std::move(r));
  }
  auto tid = ex->params.if_contains("taskId");
  if (!tid || !tid->is_string())
    return ex->fail(rpc::invalid_params, m + " needs a string 'taskId'");
  std::string id{tid->as_string()};
  if (!owns(ex->token, id) || !allowed(ex->token, std::string{kind_of(id).substr(5)}))
    return ex->fail(rpc::invalid_params, "unknown task: " + id);
  auto st = task_record(id);
  if (!st) {
    if (code_of(st.error()) == errc::not_found)
      return ex->fail(rpc::invalid_params, "unknown task: " + id);
    return ex->fail(rpc::internal_error, render(st.error()));
  }
  if (m == "tasks/get")
    return ex->reply(view(id, *st));
  if (m == "tasks/cancel") {
    if (terminal(st->state()))
      return ex->fail(rpc::invalid_params, "task " + id + " is already " + to_string(st->state()));
    {
      std::lock_guard lock{calls_mu};
      if (auto it = calls.find(id); it != calls.end())
        it->second->cancelled.store(true);
    }
    envelope env;
    env.from = "mcp";
    env.to = id;
    env.type = cancel_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = "{}";
    auto o = view(id, *st);
    o["status"] = "cancelled";
    rt.accept_async(std::move(env), [ex, o](caf::expected<std::string> r) mutable {
      if (!r)
        return ex->fail(rpc::internal_error, render(r.error()));
      ex->reply(std::move(o));
    });
    return;
  }
  if (m == "tasks/result") {
    // Answers once the task is terminal: its CallToolResult (or error).
    auto answer = [ex, id](const call_record& rec) {
      if (rec.state() == call_status::cancelled)
        return ex->fail(rpc::internal_error, "task " + id + " was cancelled",
                        json::object{{"taskId", id}});
      auto result = payload_of(rec.result);
      if (!result.is_object())
        result = json::object{};
      result.as_object()["_meta"] =
        json::object{{"io.modelcontextprotocol/related-task", json::object{{"taskId", id}}}};
      ex->reply(std::move(result));
    };
    if (terminal(st->state()))
      return answer(*st);
    // Wait for the outcome: the call actor wakes us when it commits
    // (`wake_waiters`); one timer thread enforces the time limit. Bounded.
    auto w = std::make_shared<result_waiter>();
    w->ex = ex;
    w->answer = answer;
    {
      std::lock_guard lock{waiters_mu};
      if (waiters.size() >= max_waiting_results)
        return ex->fail(rpc::internal_error,
                        "too many tasks/result requests are waiting (the limit is "
                          + std::to_string(max_waiting_results) + "); poll tasks/get instead",
                        json::object{{"taskId", id}, {"retryable", true}});
      waiters.emplace(id, w);
    }
    auto expire = [this, id, w] {
      if (drop_waiter(id, w))
        w->ex->fail(rpc::internal_error, "task " + id + " did not finish in time; poll tasks/get");
    };
    auto t = timers.schedule(deadline_queue::clock::now() + opts.call_timeout, expire);
    if (t == 0) {
      if (drop_waiter(id, w))
        w->ex->fail(rpc::internal_error,
                    "the server cannot wait for task " + id + " now; poll tasks/get",
                    json::object{{"taskId", id}, {"retryable", true}});
      return;
    }
    w->deadline.store(t); // dropped from the timers once answered
    // The outcome may have committed between the read above and the
    // registration: read once more.
    auto again = task_record(id);
    if (!again)
      ignore_error(again.error()); // the waiter stays; the deadline answers it
    else if (terminal(again->state()) && drop_waiter(id, w))
      answer(*again);
    return;
  }
  ex->fail(rpc::method_not_found, "method not found: " + m);
}

void server::impl::call_finished(const std::string& id, const call_record& rec,
                                 json::object result) {
  std::shared_ptr<live_call> live;
  {
    std::lock_guard lock{calls_mu};
    if (auto it = calls.find(id); it != calls.end()) {
      live = it->second;
      calls.erase(it);
    }
  }
  if (live)
    if (auto t = live->timeout.exchange(0))
      timers.cancel(t); // answered: its deadline holds no room
  if (live && live->finish)
    live->finish(rec, std::move(result));
  if (live && live->on_status)
    live->on_status(rec);
  if (terminal(rec.state()))
    wake_waiters(id, rec);
}

void server::impl::wake_waiters(const std::string& id, const call_record& rec) {
  std::vector<std::shared_ptr<result_waiter>> woken;
  {
    std::lock_guard lock{waiters_mu};
    auto [from, to] = waiters.equal_range(id);
    for (auto it = from; it != to; ++it)
      woken.push_back(it->second);
    waiters.erase(from, to);
  }
  for (auto& w : woken) {
    if (auto t = w->deadline.exchange(0))
      timers.cancel(t);
    w->answer(rec);
  }
}

bool server::impl::drop_waiter(const std::string& id, const std::shared_ptr<result_waiter>& w) {
  {
    std::lock_guard lock{waiters_mu};
    auto [from, to] = waiters.equal_range(id);
    auto it = from;
    while (it != to && it->second != w)
      ++it;
    if (it == to)
      return false;
    waiters.erase(it);
  }
  if (auto t = w->deadline.exchange(0))
    timers.cancel(t);
  return true;
}

void server::impl::fail_waiters() {
  std::unordered_multimap<std::string, std::shared_ptr<result_waiter>> all;
  {
    std::lock_guard lock{waiters_mu};
    all.swap(waiters);
  }
  for (auto& [id, w] : all)
    w->ex->fail(rpc::internal_error, "the node is stopping; poll tasks/get for task " + id,
                json::object{{"taskId", id}, {"retryable", true}});
}

} // namespace cairn::mcp
