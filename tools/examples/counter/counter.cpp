// SPDX-License-Identifier: Apache-2.0
// A node of your own: everything `cairn node` is, plus a durable `counter`
// actor with a durable timer and an MCP tool that adds to a counter.
#include <chrono>
#include <string>

#include <boost/json.hpp>

#include <cairn/json_codec.hpp>
#include <cairn/node.hpp>

// A message: any struct with inspect(). field{...} names a member for JSON
// (the stored bytes do not change); CAIRN_MESSAGE_TYPE gives it a stable,
// versioned tag.
struct add {
  int64_t n = 0;
};
template <class I>
auto inspect(I& f, add& x) {
  return f(caf::meta::type_name("add"), cairn::field{"n"}, x.n);
}
CAIRN_MESSAGE_TYPE(add, "counter.add/v1");

// What the durable timer delivers, journaled as it is.
struct reminder {
  int64_t total = 0;
};
template <class I>
auto inspect(I& f, reminder& x) {
  return f(caf::meta::type_name("reminder"), cairn::field{"total"}, x.total);
}
CAIRN_MESSAGE_TYPE(reminder, "counter.reminder/v1");

struct counter_state {
  int64_t total = 0;
  int64_t reminders = 0;
};
template <class I>
auto inspect(I& f, counter_state& x) {
  return f(caf::meta::type_name("counter_state"), x.total, x.reminders);
}

// One actor per id (`counter/a`, `counter/b`, ...), activated on demand; its
// state is rebuilt from its journal after a restart.
class counter : public cairn::stateful_actor<counter_state> {
public:
  counter() {
    on<add>([this](cairn::context& ctx, const add& m) { return added(ctx, m); });
    // The same message from a tool (cairn::mcp::call::send) arrives as JSON.
    on_json("counter.add/v1", [this](cairn::context& ctx, std::string_view text) -> caf::error {
      auto v = cairn::json::parse(text);
      if (!v)
        return v.error();
      add m;
      if (auto err = cairn::json::from_value(*v, m, "payload"))
        return err;
      return added(ctx, m);
    });
    on<reminder>([this](cairn::context& ctx, const reminder&) -> caf::error {
      ctx.emit(reminder{state.total});
      return {};
    });
    on_event<add>([this](const add& e) { state.total += e.n; });
    on_event<reminder>([this](const reminder&) { ++state.reminders; });
  }

  // What `GET /api/v1/actors/counter%2Fa` shows as the actor's state.
  std::optional<std::string> describe() const override {
    return "{\"total\":" + std::to_string(state.total)
           + ",\"reminders\":" + std::to_string(state.reminders) + "}";
  }

private:
  caf::error added(cairn::context& ctx, const add& m) {
    if (m.n == 0) // not retried: dead-lettered with this reason
      return cairn::make_error(cairn::errc::invalid_argument, "adding 0 changes nothing");
    ctx.emit(m); // journaled, and applied to the state at once
    // A durable timer: in one second, across restarts, exactly once.
    ctx.schedule(std::chrono::seconds{1}, ctx.self(), reminder{});
    return {}; // an error (or a throw) instead: nothing commits, the message is retried
  }
};

// An MCP tool with its contract: the input is checked against its schema
// before the handler runs, the output after.
cairn::mcp::tool_spec add_to_counter() {
  namespace json = boost::json;
  cairn::mcp::tool_spec t;
  t.name = "add_to_counter";
  t.description = "Adds n to a counter (sent atomically with the call's outcome)";
  t.input_schema = json::parse(R"({
    "type": "object",
    "properties": {"counter": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
                   "n": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "required": ["counter", "n"], "additionalProperties": false})")
                     .as_object();
  t.output_schema = json::parse(R"({
    "type": "object", "properties": {"sent_to": {"type": "string"}},
    "required": ["sent_to"]})")
                      .as_object();
  t.annotations.idempotent = false;
  t.handler = [](cairn::mcp::call& c) -> caf::expected<cairn::mcp::tool_result> {
    auto to = "counter/" + std::string{c.arguments().at("counter").as_string()};
    c.send(to, "counter.add/v1", json::object{{"n", c.arguments().at("n")}});
    auto r = cairn::mcp::tool_result::text("sent to " + to);
    r.structured = json::object{{"sent_to", to}};
    return r;
  };
  return t;
}

int main(int argc, char** argv) {
  return cairn::node_main(argc, argv, [](cairn::node_builder& b) {
    cairn::kind_options ko;
    // POST /api/v1/actors/counter%2Fa/messages {"type":"counter.add/v1","payload":{"n":5}}
    ko.accepts = {cairn::json::codec_for<add>()};
    ko.events = {cairn::json::codec_for<add>(), cairn::json::codec_for<reminder>()};
    b.actor<counter>("counter", ko);
    b.tool(add_to_counter());
  });
}
