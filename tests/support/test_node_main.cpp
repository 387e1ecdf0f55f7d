// SPDX-License-Identifier: Apache-2.0
// `cairn-test-node`: the cairn binary plus test-only profiles, for the MCP
// and console test scripts. The production binary is built from the same
// commands without them:
// - `conformance`: the MCP conformance suite's fixture;
// - `console`: a `gate` kind whose messages fail every attempt of their
//   first delivery (so they are dead-lettered) and succeed once redriven.
#include <map>
#include <mutex>
#include <string>

#include "cairn/actor.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/node.hpp"
#include "cairn/runtime.hpp"
#include "commands/commands.hpp"
#include "mcp_fixture.hpp"

namespace {

constexpr uint32_t gate_attempts = 2;

// Attempts seen per message, in this process: a message's first
// `gate_attempts` attempts fail, the next (its redrive) passes.
struct gate_counts {
  std::mutex mtx;
  std::map<std::string, uint32_t> seen;
  uint32_t next(const std::string& id) {
    std::lock_guard<std::mutex> guard{mtx};
    return ++seen[id];
  }
};

gate_counts& counts() {
  static gate_counts c;
  return c;
}

class gate final : public cairn::stateful_actor<std::string> {
public:
  gate() {
    on_json("console.gate/v1", [](cairn::context& ctx, std::string_view text) -> caf::error {
      if (counts().next(ctx.message().id) <= gate_attempts)
        return cairn::make_error(cairn::errc::handler_failed, "the gate is closed");
      ctx.emit_raw("console.passed/v1", std::string{text});
      return {};
    });
  }

  caf::error apply(std::string_view type, std::string_view payload) override {
    state = std::string{payload};
    return {};
  }
};

void register_gate(cairn::runtime& rt) {
  cairn::kind_options k;
  k.retry.max_attempts = gate_attempts;
  k.retry.initial_backoff = std::chrono::milliseconds{10};
  k.accepts = {cairn::json::json_object_codec("console.gate/v1")};
  k.events = {cairn::json::json_object_codec("console.passed/v1")};
  if (auto err = rt.register_kind(
        "gate", [](std::string_view) { return std::make_unique<gate>(); }, k))
    throw std::invalid_argument("cannot register the gate kind: " + cairn::render(err));
}

} // namespace

int main(int argc, char** argv) {
  cairn::cli::add_profile("conformance",
                          {"also serve the MCP conformance suite's fixture (tests only)",
                           [](cairn::mcp::server& srv, cairn::runtime&) {
                             cairn::test::register_conformance_fixture(srv);
                           }});
  cairn::cli::add_profile("console",
                          {"also run the console test's `gate` kind (tests only)",
                           [](cairn::mcp::server&, cairn::runtime& rt) { register_gate(rt); }});
  return cairn::node_main(argc, argv, [](cairn::node_builder& b) { b.demo(); });
}
