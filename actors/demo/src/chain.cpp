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
        if (m.delay_ms && *m.delay_ms > 0)
          ctx.schedule(std::chrono::milliseconds{*m.delay_ms}, to, chain_item{chain_, seq});
        else
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

struct relay_state {}; // a relay keeps nothing

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relay_state&) {
  return f(caf::meta::type_name("relay.state"));
}

class relay : public stateful_actor<relay_state> {
public:
  relay() {
    on<relay_token>([](context& ctx, const relay_token& m) -> caf::error {
      if (m.hops_left == 0)
        return {};
      // The next holder: the entry after `at` in the ring.
      std::vector<std::string_view> ring;
      std::string_view rest{m.route};
      while (!rest.empty()) {
        auto comma = rest.find(',');
        ring.push_back(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      if (ring.empty())
        return {};
      relay_token next = m;
      next.at = static_cast<uint32_t>((m.at + 1) % ring.size());
      --next.hops_left;
      ctx.send(std::string{ring[next.at]}, next);
      return {};
    });
  }
};

} // namespace

void register_chain_workload(runtime& rt) {
  kind_options ko;
  ko.snapshot_every = 1000;
  // A chain starts from outside too (the node API, `cairn send`):
  // {"type": "chain.produce/v1", "payload": {"count": N, "batch": B}}, and
  // "delay_ms": D for items that reach hop_a through durable timers.
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
  kind_options relay_opts;
  relay_opts.accepts = {json::codec_for<relay_token>()};
  rt.register_kind(
    "relay", [](std::string_view) { return std::make_unique<relay>(); }, relay_opts);
}

caf::expected<std::string> start_chain(runtime& rt, uint32_t c, uint64_t count, uint32_t batch) {
  return rt.tell("source/" + std::to_string(c), chain_produce{count, batch, {}},
                 "chain-start-" + std::to_string(c) + "-" + std::to_string(count));
}

} // namespace cairn::actors
