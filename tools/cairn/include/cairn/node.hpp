// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"

/// @file
/// The node as a library: a program of your own that is everything `cairn`
/// is (`node`, `mcp stdio` and every operator command, with the same
/// configuration file, environment, flags, HTTP API, MCP, metrics, logs and
/// signals) and also runs your actor kinds and C++ tools.

namespace cairn {

/// What a node runs beside cairn's own kinds and tools: your actor kinds,
/// your C++ MCP tools, and anything else to set up once the runtime and the
/// MCP server exist. Filled in by the function given to `node_main`.
class node_builder {
public:
  /// Work to do on a node's runtime and MCP server before it recovers
  /// (registering kinds, adding tools, subscriptions). An error stops the
  /// node with exit code 2 and the error's text.
  using setup_fn = std::function<caf::error(runtime&, mcp::server&)>;

  /// A durable actor kind: `Actor` is made once per actor id (from the id,
  /// if it has a constructor taking a `std::string_view`, else by its
  /// default constructor), as `runtime::register_kind` does.
  template <class Actor>
  node_builder& actor(std::string kind, kind_options opts = {}) {
    static_assert(std::is_base_of_v<durable_actor, Actor>,
                  "an actor kind derives from cairn::durable_actor (or stateful_actor<S>)");
    return actor(
      std::move(kind),
      [](std::string_view id) -> std::unique_ptr<durable_actor> {
        if constexpr (std::is_constructible_v<Actor, std::string_view>)
          return std::make_unique<Actor>(id);
        else
          return std::make_unique<Actor>();
      },
      std::move(opts));
  }

  /// A durable actor kind made by `make`.
  node_builder& actor(std::string kind, actor_factory make, kind_options opts = {});

  /// A C++ MCP tool with its contract (schemas, risk, compensation) and
  /// its handler. It is listed by `tools/list`, callable over MCP and from
  /// plans, and checked by policy like every other tool.
  node_builder& tool(mcp::tool_spec spec);

  /// Anything else to set up on the runtime and the MCP server (after the
  /// kinds and tools above are registered, before recovery).
  node_builder& setup(setup_fn fn);

  /// Also runs cairn's delivery demo (its workers, tools and policy, and
  /// `cairn node --demo`), as the `cairn` binary does.
  node_builder& demo();

  /// The steps registered so far, in order (used by `node_main`).
  const std::vector<setup_fn>& steps() const { return steps_; }

  /// True once `demo()` was called.
  bool has_demo() const { return demo_; }

private:
  std::vector<setup_fn> steps_;
  bool demo_ = false;
};

/// Runs the command line of `cairn` (`node`, `mcp stdio`, `send`, `dlq`,
/// `plan`, `bench`, ...) with `build`'s kinds and tools in every node this
/// process runs; returns the exit code for `main` to return. Call it once,
/// from `main`:
///
///     int main(int argc, char** argv) {
///       return cairn::node_main(argc, argv, [](cairn::node_builder& b) {
///         b.actor<counter>("counter");
///       });
///     }
int node_main(int argc, char** argv, const std::function<void(node_builder&)>& build);

} // namespace cairn
