// SPDX-License-Identifier: Apache-2.0
// A workflow actor that calls two tools and compensates: `trip/<id>` books a
// room, then charges the card; when the charge fails for good it releases
// the room. Every call is a durable command committed with the step that
// made it, and its outcome comes back as a message, exactly once, across
// restarts: the workflow never holds a thread while a tool runs.
#include <string>

#include <boost/json.hpp>

#include <cairn/json_codec.hpp>
#include <cairn/mcp/outcome.hpp>
#include <cairn/node.hpp>

namespace json = boost::json;

struct book {
  int64_t nights = 0;
  int64_t amount_cents = 0;
};
template <class I>
auto inspect(I& f, book& x) {
  return f(caf::meta::type_name("book"), cairn::field{"nights"}, x.nights,
           cairn::field{"amount_cents"}, x.amount_cents);
}
CAIRN_MESSAGE_TYPE(book, "trip.book/v1");

// The workflow's journal: each event moves it on (`status`).
struct progress {
  std::string status; // booking, reserved, completed, compensating, compensated, failed
  std::string detail; // the reservation, or why
};
template <class I>
auto inspect(I& f, progress& x) {
  return f(caf::meta::type_name("progress"), cairn::field{"status"}, x.status,
           cairn::field{"detail"}, x.detail);
}
CAIRN_MESSAGE_TYPE(progress, "trip.progress/v1");

struct trip_state {
  book order;
  std::string status;
  std::string reservation;
  std::string reason;
};
template <class I>
auto inspect(I& f, trip_state& x) {
  return f(caf::meta::type_name("trip_state"), x.order, x.status, x.reservation, x.reason);
}

class trip : public cairn::stateful_actor<trip_state> {
public:
  explicit trip(cairn::mcp::server& tools) : tools_(tools) {
    on<book>([this](cairn::context& ctx, const book& m) -> caf::error {
      if (!state.status.empty())
        return {}; // booked already: a repeat changes nothing
      ctx.emit(m);
      return call(ctx, "reserve_room", {{"trip", ctx.self()}, {"nights", m.nights}});
    });
    // A tool call's outcome, delivered in the commit that records it.
    on<cairn::mcp::tool_outcome>(
      [this](cairn::context& ctx, const cairn::mcp::tool_outcome& o) -> caf::error {
        auto parsed = json::parse(o.result.empty() ? "{}" : o.result);
        const auto& result = parsed.as_object();
        auto* is_error = result.if_contains("isError");
        bool ok =
          o.status == "completed" && !(is_error && is_error->is_bool() && is_error->as_bool());
        if (o.correlation == "reserve_room") {
          if (!ok) {
            ctx.emit(progress{"failed", "no room: " + text_of(result)});
            return {};
          }
          auto& made = result.at("structuredContent").at("reservation");
          ctx.emit(progress{"reserved", json::value_to<std::string>(made)});
          return call(ctx, "charge_card",
                      {{"trip", ctx.self()}, {"amount_cents", state.order.amount_cents}});
        }
        if (o.correlation == "charge_card") {
          if (ok) {
            ctx.emit(progress{"completed", state.reservation});
            return {};
          }
          // Compensate: undo what succeeded, in reverse order.
          ctx.emit(progress{"compensating", "charge failed: " + text_of(result)});
          return call(ctx, "release_room", {{"reservation", state.reservation}});
        }
        if (o.correlation == "release_room")
          ctx.emit(progress{ok ? "compensated" : "failed", state.reason});
        return {};
      });
    on_event<book>([this](const book& e) {
      state.order = e;
      state.status = "booking";
    });
    on_event<progress>([this](const progress& e) {
      state.status = e.status;
      if (e.status == "reserved")
        state.reservation = e.detail;
      if (e.status == "compensating")
        state.reason = e.detail;
    });
  }

  std::optional<std::string> describe() const override {
    return json::serialize(json::object{
      {"status", state.status}, {"reservation", state.reservation}, {"reason", state.reason}});
  }

private:
  // Starts `tool` as a durable command of this step, answered to this actor;
  // its key makes a re-run step (after a crash) call it once, not twice.
  caf::error call(cairn::context& ctx, const std::string& tool, json::object args) {
    auto key = ctx.self() + "/" + tool;
    auto env = tools_.call_envelope(tool, std::move(args), ctx.self(), tool,
                                    ctx.self().substr(5) + "." + tool, key);
    if (!env)
      return env.error();
    ctx.send_raw(env->to, env->type, env->payload, cairn::payload_format::json,
                 std::chrono::milliseconds{0}, key);
    return {};
  }

  static std::string text_of(const json::object& result) {
    auto* content = result.if_contains("content");
    if (content && content->is_array() && !content->as_array().empty())
      if (auto* t = content->as_array()[0].as_object().if_contains("text"))
        return json::value_to<std::string>(*t);
    return "no answer";
  }

  cairn::mcp::server& tools_;
};

// The three tools. A real one would call a hotel's and a payment service's
// APIs, passing call::idempotency_key() so that a retried call counts once.
cairn::mcp::tool_spec tool(std::string name, std::string description, const char* input,
                           const char* output, cairn::mcp::tool_handler handler) {
  cairn::mcp::tool_spec t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.input_schema = json::parse(input).as_object();
  t.output_schema = json::parse(output).as_object();
  t.max_attempts = 2;
  t.handler = std::move(handler);
  return t;
}

int main(int argc, char** argv) {
  return cairn::node_main(argc, argv, [](cairn::node_builder& b) {
    b.tool(tool(
      "reserve_room", "Reserves a room for a trip",
      R"({"type":"object","properties":{"trip":{"type":"string"},
          "nights":{"type":"integer","minimum":1,"maximum":30}},
          "required":["trip","nights"],"additionalProperties":false})",
      R"({"type":"object","properties":{"reservation":{"type":"string"}},"required":["reservation"]})",
      [](cairn::mcp::call& c) -> caf::expected<cairn::mcp::tool_result> {
        auto r = cairn::mcp::tool_result::text("reserved");
        r.structured = json::object{{"reservation", "room-" + c.idempotency_key()}};
        return r;
      }));
    b.tool(
      tool("charge_card", "Charges the trip's card; declines above 500.00",
           R"({"type":"object","properties":{"trip":{"type":"string"},
          "amount_cents":{"type":"integer","minimum":1}},
          "required":["trip","amount_cents"],"additionalProperties":false})",
           R"({"type":"object","properties":{"charge":{"type":"string"}},"required":["charge"]})",
           [](cairn::mcp::call& c) -> caf::expected<cairn::mcp::tool_result> {
             if (c.arguments().at("amount_cents").as_int64() > 50000)
               return cairn::mcp::tool_result::error("card declined: over the limit");
             auto r = cairn::mcp::tool_result::text("charged");
             r.structured = json::object{{"charge", "charge-" + c.idempotency_key()}};
             return r;
           }));
    b.tool(tool(
      "release_room", "Releases a reservation",
      R"({"type":"object","properties":{"reservation":{"type":"string"}},
          "required":["reservation"],"additionalProperties":false})",
      R"({"type":"object","properties":{"released":{"type":"string"}},"required":["released"]})",
      [](cairn::mcp::call& c) -> caf::expected<cairn::mcp::tool_result> {
        auto r = cairn::mcp::tool_result::text("released");
        r.structured = json::object{{"released", c.arguments().at("reservation")}};
        return r;
      }));
    // The workflow kind needs the MCP server, so it is registered in a setup step.
    b.setup([](cairn::runtime& rt, cairn::mcp::server& tools) -> caf::error {
      cairn::kind_options ko;
      ko.accepts = {cairn::json::codec_for<book>()};
      ko.events = {cairn::json::codec_for<book>(), cairn::json::codec_for<progress>()};
      return rt.register_kind(
        "trip", [&tools](std::string_view) { return std::make_unique<trip>(tools); }, ko);
    });
  });
}
