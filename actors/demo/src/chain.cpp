// SPDX-License-Identifier: Apache-2.0
#include "cairn/actors/chain.hpp"

#include "cairn/json_codec.hpp"

namespace cairn::actors {

namespace {

struct source_state {
  uint64_t upto = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_state& x) {
  return f(caf::meta::type_name("chain.source_state"), x.upto);
}

class source : public stateful_actor<source_state> {
public:
  explicit source(std::string_view id)
    : chain_(static_cast<uint32_t>(std::stoul(std::string{id.substr(id.find('/') + 1)}))) {
    on<chain_produce>([this](context& ctx, const chain_produce& m) -> caf::error {
      auto end = std::min<uint64_t>(m.count, state.upto + m.batch);
      auto to = "hop_a/" + std::to_string(chain_);
      for (auto seq = state.upto; seq < end; ++seq)
        ctx.send(to, chain_item{chain_, seq});
      ctx.emit(chain_produced{end});
      if (end < m.count)
        ctx.send(ctx.self(), m); // the next batch, as its own step
      return {};
    });
    on_event<chain_produced>([this](const chain_produced& e) { state.upto = e.upto; });
  }

private:
  uint32_t chain_;
};

struct hop_state {
  uint64_t seen = 0;
  uint64_t next = 0; ///< the seq expected next (order check while running)
  uint64_t out_of_order = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hop_state& x) {
  return f(caf::meta::type_name("chain.hop_state"), x.seen, x.next, x.out_of_order);
}

class hop : public stateful_actor<hop_state> {
public:
  explicit hop(std::string next_kind) {
    on<chain_item>([next_kind](context& ctx, const chain_item& m) -> caf::error {
      ctx.emit(m);
      if (!next_kind.empty())
        ctx.send(next_kind + "/" + std::to_string(m.chain), m);
      return {};
    });
    on_event<chain_item>([this](const chain_item& m) {
      ++state.seen;
      if (m.seq != state.next)
        ++state.out_of_order;
      state.next = m.seq + 1;
    });
  }
};

} // namespace

void register_chain_workload(runtime& rt) {
  kind_options ko;
  ko.snapshot_every = 1000;
  // A chain starts from outside too (the node API, `cairn send`):
  // {"type": "chain.produce/v1", "payload": {"count": N, "batch": B}}.
  auto source_opts = ko;
  source_opts.accepts = {json::codec_for<chain_produce>()};
  rt.register_kind(
    "source", [](std::string_view id) { return std::make_unique<source>(id); }, source_opts);
  rt.register_kind(
    "hop_a", [](std::string_view) { return std::make_unique<hop>("hop_b"); }, ko);
  rt.register_kind(
    "hop_b", [](std::string_view) { return std::make_unique<hop>("hop_c"); }, ko);
  rt.register_kind(
    "hop_c", [](std::string_view) { return std::make_unique<hop>(""); }, ko);
}

caf::expected<std::string> start_chain(runtime& rt, uint32_t c, uint64_t count, uint32_t batch) {
  return rt.tell("source/" + std::to_string(c), chain_produce{count, batch},
                 "chain-start-" + std::to_string(c) + "-" + std::to_string(count));
}

} // namespace cairn::actors
