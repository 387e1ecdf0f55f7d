// SPDX-License-Identifier: Apache-2.0
// Supervision with real CAF actors: each strategy restarts exactly the
// children it should, and exceeding the restart intensity escalates.
#include <map>
#include <mutex>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "cairn/error.hpp"
#include "cairn/supervisor.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;

/// A child that fails (an exception in its handler) when told to.
caf::behavior worker(caf::event_based_actor* self) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    return make_error(errc::handler_failed, "worker threw");
  });
  return {
    [](fail_atom) { throw std::runtime_error("told to fail"); },
  };
}

/// Records how often each child was started, and the children's handles.
struct observer {
  std::mutex mtx;
  std::map<std::string, uint32_t> starts;

  uint32_t of(const std::string& name) {
    std::lock_guard<std::mutex> g{mtx};
    return starts[name];
  }
};

struct tree {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  observer obs;
  std::map<std::string, caf::actor> current; // guarded by obs.mtx
  caf::actor sup;

  explicit tree(supervisor_spec spec) {
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.console", caf::atom("none"));
    sys = std::make_unique<caf::actor_system>(cfg);
    spec.on_start = [this](const std::string& name, uint32_t n) {
      std::lock_guard<std::mutex> g{obs.mtx};
      obs.starts[name] = n;
    };
    std::vector<child_spec> children;
    for (std::string name : {"a", "b", "c"})
      children.push_back(child_spec{name, [this, name](caf::actor_system& s) {
                                      auto h = s.spawn(worker);
                                      current[name] = h; // on the supervisor's thread
                                      return h;
                                    }});
    sup = spawn_supervisor(*sys, std::move(spec), std::move(children));
    REQUIRE(test::eventually([&] { return obs.of("c") == 1; }));
  }

  ~tree() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  void fail(const std::string& name) {
    caf::actor h;
    {
      std::lock_guard<std::mutex> g{obs.mtx};
      h = current[name];
    }
    caf::anon_send(h, fail_atom::value);
  }
};

supervisor_spec spec_for(restart_strategy s) {
  supervisor_spec spec;
  spec.strategy = s;
  spec.max_restarts = 3;
  spec.within = 60s;
  spec.backoff = 1ms;
  return spec;
}

} // namespace

TEST_CASE("one_for_one restarts only the failed child", "[supervisor]") {
  tree t{spec_for(restart_strategy::one_for_one)};
  t.fail("b");
  REQUIRE(test::eventually([&] { return t.obs.of("b") == 2; }));
  CHECK(t.obs.of("a") == 1);
  CHECK(t.obs.of("c") == 1);
}

TEST_CASE("one_for_all restarts every child when one fails", "[supervisor]") {
  tree t{spec_for(restart_strategy::one_for_all)};
  t.fail("b");
  REQUIRE(test::eventually(
    [&] { return t.obs.of("a") == 2 && t.obs.of("b") == 2 && t.obs.of("c") == 2; }));
}

TEST_CASE("rest_for_one restarts the failed child and those started after it", "[supervisor]") {
  tree t{spec_for(restart_strategy::rest_for_one)};
  t.fail("b");
  REQUIRE(test::eventually([&] { return t.obs.of("b") == 2 && t.obs.of("c") == 2; }));
  CHECK(t.obs.of("a") == 1);
}

TEST_CASE("exceeding the restart intensity escalates to the parent", "[supervisor][escalation]") {
  tree t{spec_for(restart_strategy::one_for_one)};
  caf::scoped_actor parent{*t.sys};
  parent->monitor(t.sup);
  for (uint32_t n = 1; n <= 3; ++n) {
    t.fail("a");
    REQUIRE(test::eventually([&] { return t.obs.of("a") == n + 1; }));
  }
  t.fail("a"); // the fourth failure within the window
  caf::error reason;
  parent->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                  caf::after(std::chrono::seconds{60}) >> [] {});
  REQUIRE(reason);
  CHECK(code_of(reason) == errc::escalated);
  CHECK(render(reason).find("child 'a' failed 4 times") != std::string::npos);
  CHECK(t.obs.of("a") == 4); // no fifth start
}
