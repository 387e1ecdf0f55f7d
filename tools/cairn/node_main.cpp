// SPDX-License-Identifier: Apache-2.0
// The node as a library: `node_main` is the `cairn` command line with the
// caller's kinds and tools added to every node it runs.
#include "cairn/node.hpp"

#include <cctype>

#include <boost/json.hpp>

#include "commands/commands.hpp"

namespace cairn {

node_builder& node_builder::actor(std::string kind, actor_factory make, kind_options opts) {
  steps_.push_back([kind = std::move(kind), make = std::move(make),
                    opts = std::move(opts)](runtime& rt, mcp::server&) -> caf::error {
    // Before start, register_kind would replace a kind: one of cairn's own
    // (`bench`, `tool.<name>`, ...) or the program's, silently. Refused.
    if (rt.stats().by_kind.count(kind) != 0)
      return make_error(errc::conflict, "cannot register the actor kind '" + kind
                                          + "': this node has a kind of that name already");
    if (auto err = rt.register_kind(kind, make, opts))
      return make_error(code_of(err),
                        "cannot register the actor kind '" + kind + "': " + detail_of(err));
    return {};
  });
  return *this;
}

node_builder& node_builder::tool(mcp::tool_spec spec) {
  // add_tool throws on a contract it refuses (a bad name, a schema that
  // does not compile): that becomes the node's error, not a crash.
  auto shared = std::make_shared<mcp::tool_spec>(std::move(spec));
  steps_.push_back([shared](runtime&, mcp::server& srv) -> caf::error {
    const auto& name = shared->name;
    bool valid = !name.empty() && name.size() <= 128;
    for (char c : name)
      valid =
        valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    if (!valid)
      return make_error(errc::invalid_argument,
                        "cannot add the tool '" + name
                          + "': a tool name is 1 to 128 of A-Z a-z 0-9 _ - .");
    if (!shared->handler)
      return make_error(errc::invalid_argument,
                        "cannot add the tool '" + name + "': it has no handler");
    // add_tool would replace a tool of the same name (cairn's own, or one
    // the program added before): refused instead.
    for (const auto& listed : srv.tool_listing())
      if (listed.as_object().at("name") == boost::json::value(name))
        return make_error(errc::conflict, "cannot add the tool '" + name
                                            + "': this node has a tool of that name already");
    try {
      srv.add_tool(*shared);
    } catch (const std::exception& e) {
      return make_error(errc::invalid_argument, std::string{"cannot add a tool: "} + e.what());
    }
    return {};
  });
  return *this;
}

node_builder& node_builder::setup(setup_fn fn) {
  steps_.push_back(std::move(fn));
  return *this;
}

node_builder& node_builder::demo() {
  demo_ = true;
  return *this;
}

int node_main(int argc, char** argv, const std::function<void(node_builder&)>& build) {
  node_builder b;
  if (build)
    build(b);
  cli::set_node_additions(std::move(b));
  return cli::run(argc, argv);
}

} // namespace cairn
