// SPDX-License-Identifier: Apache-2.0
// The seams the next layers build on, against real RocksDB on disk: the
// placement decision (local mailbox or outbox), layout migrations, and
// supervision trees spawned through the runtime.
#include <atomic>
#include <filesystem>
#include <future>
#include <map>

#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <rocksdb/db.h>

#include "cairn/codec.hpp"
#include "cairn/runtime.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/insert_hints.hpp"
#include "internal/keys.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

struct memo {
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, memo& x) {
  return f(caf::meta::type_name("test.memo"), x.text);
}

/// A span as layouts 1 to 4 stored it.
struct old_span {
  std::string trace_id, span_id, parent_span_id, actor, type, envelope_id;
  uint32_t attempt = 0;
  int64_t start_ms = 0, end_ms = 0;
  std::string status;
  uint64_t first_event = 0;
  uint32_t events = 0;
  std::vector<std::string> sent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, old_span& x) {
  return f(caf::meta::type_name("cairn.span"), x.trace_id, x.span_id, x.parent_span_id, x.actor,
           x.type, x.envelope_id, x.attempt, x.start_ms, x.end_ms, x.status, x.first_event,
           x.events, x.sent);
}

} // namespace

CAIRN_MESSAGE_TYPE(memo, "test.memo/v1");

namespace {

/// Journals every memo; a memo "fan out" also sends one to `remote/x` and
/// one to `sink/y`, in the same step.
struct sink_state {
  std::vector<std::string> seen;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sink_state& x) {
  return f(caf::meta::type_name("test.sink_state"), x.seen);
}

class sink : public stateful_actor<sink_state> {
public:
  sink() {
    on<memo>([](context& ctx, const memo& m) {
      ctx.emit(m);
      if (m.text == "fan out") {
        ctx.send("remote/x", memo{"for the other node"});
        ctx.send("sink/y", memo{"for this node"});
      }
      if (m.text == "schedule") {
        ctx.schedule(std::chrono::milliseconds{1}, "sink/held", memo{"tick"});
        ctx.schedule(std::chrono::milliseconds{1}, "sink/free", memo{"tick"});
      }
      return caf::error{};
    });
    on_event<memo>([this](const memo& m) { state.seen.push_back(m.text); });
  }
};

void register_sinks(runtime& rt) {
  for (const char* kind : {"sink", "remote"})
    rt.register_kind(kind, [](std::string_view) { return std::make_unique<sink>(); });
}

std::vector<std::string> journal_of(runtime& rt, const std::string& id) {
  std::vector<std::string> out;
  ignore_error(rt.read_journal(id, 1, 1000, [&](uint64_t, std::string_view, std::string_view p) {
    if (auto m = decode<memo>(p))
      out.push_back(m->text);
  }));
  return out;
}

/// Rows of `cf` under `prefix`, decoded as mailbox records.
std::vector<internal::mailbox_record> rows(storage& st, column cf, const std::string& prefix) {
  std::vector<internal::mailbox_record> out;
  ignore_error(st.scan(cf, prefix, "", [&](std::string_view, std::string_view v) {
    if (auto r = decode<internal::mailbox_record>(v))
      out.push_back(std::move(*r));
    return true;
  }));
  return out;
}

} // namespace

TEST_CASE("a message for an actor another node owns goes to the outbox with the step",
          "[placement][invariant2]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  o.place = [](std::string_view id) {
    return id.rfind("remote/", 0) == 0 ? placement::at("node-b") : placement::here();
  };
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  register_sinks(**rt);
  REQUIRE_FALSE((*rt)->start());

  REQUIRE((*rt)->tell("sink/a", memo{"fan out"}));
  REQUIRE(test::eventually([&] { return journal_of(**rt, "sink/y").size() == 1; }));
  CHECK(journal_of(**rt, "sink/a") == std::vector<std::string>{"fan out"});

  // The remote receiver's message sits in the outbox toward node-b, not in
  // any mailbox of this node, and nothing here handled it.
  auto out = rows((*rt)->store(), column::outbox, keys::actor_prefix("node-b"));
  REQUIRE(out.size() == 1);
  CHECK(out[0].env.to == "remote/x");
  CHECK(out[0].env.from == "sink/a");
  CHECK(decode<memo>(out[0].env.payload)->text == "for the other node");
  CHECK(rows((*rt)->store(), column::mailbox, keys::actor_prefix("remote/x")).empty());
  CHECK(journal_of(**rt, "remote/x").empty());

  // An accepted message from outside takes the same decision.
  REQUIRE((*rt)->tell("remote/z", memo{"from outside"}));
  CHECK(rows((*rt)->store(), column::outbox, keys::actor_prefix("node-b")).size() == 2);
  (*rt)->stop();
}

TEST_CASE("messages to one actor in one request take one path even if the placement changes "
          "its answer between them",
          "[placement][invariant2]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  // A placement whose answer changes every time it is asked (as a new map
  // or a sticky count dropping to zero changes it between two asks).
  auto asked = std::make_shared<std::atomic<int>>(0);
  o.place = [asked](std::string_view id) {
    if (id.rfind("remote/", 0) != 0)
      return placement::here();
    return asked->fetch_add(1) % 2 == 0 ? placement::at("node-b") : placement::at("node-c");
  };
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  register_sinks(**rt);
  REQUIRE_FALSE((*rt)->start());
  std::vector<envelope> envs;
  for (int i = 0; i < 6; ++i) {
    envelope e;
    e.to = "remote/x";
    e.type = "test.memo/v1";
    e.payload = encode(memo{"m" + std::to_string(i)});
    envs.push_back(std::move(e));
  }
  std::promise<std::vector<runtime::batch_result>> done;
  auto f = done.get_future();
  (*rt)->accept_batch(std::move(envs), [&](auto r) { done.set_value(std::move(r)); });
  for (auto& r : f.get())
    REQUIRE(r.id);
  // All six sit in one outbox, in the order sent; the other holds none.
  auto b = rows((*rt)->store(), column::outbox, keys::actor_prefix("node-b"));
  auto c = rows((*rt)->store(), column::outbox, keys::actor_prefix("node-c"));
  CHECK(b.size() + c.size() == 6);
  CHECK((b.empty() || c.empty()));
  std::vector<std::string> texts;
  for (auto* out : {&b, &c})
    for (auto& r : *out)
      texts.push_back(decode<memo>(r.env.payload)->text);
  CHECK(texts == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4", "m5"});
  (*rt)->stop();
}

TEST_CASE("a timer held back waits, and one handed over twice is held once",
          "[placement][timers]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  std::atomic<bool> allow{false};
  o.fires = [&allow](std::string_view to) { return allow.load() || to != "sink/held"; };
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  register_sinks(**rt);
  REQUIRE_FALSE((*rt)->start());
  REQUIRE((*rt)->tell("sink/a", memo{"schedule"}));
  // The free one fires; the held one stays a timer row.
  REQUIRE(test::eventually([&] { return journal_of(**rt, "sink/free").size() == 1; }));
  auto is_held = [](std::string_view to) { return to == "sink/held"; };
  auto held = (*rt)->timer_rows(is_held);
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK(journal_of(**rt, "sink/held").empty());
  auto import = [&](std::vector<runtime::actor_row> rows) {
    std::promise<caf::error> done;
    auto f = done.get_future();
    (*rt)->import_actor_rows(std::move(rows), [&](caf::error e) { done.set_value(std::move(e)); });
    return f.get();
  };
  // Sent again (a sender that stopped before deleting its copy): held once.
  REQUIRE_FALSE(import(*held));
  CHECK((*rt)->timer_rows(is_held)->size() == 1);
  // Deleted, then taken over from "another node": one row again.
  REQUIRE_FALSE((*rt)->erase_rows(*held));
  CHECK((*rt)->timer_rows(is_held)->empty());
  REQUIRE_FALSE(import(*held));
  CHECK((*rt)->timer_rows(is_held)->size() == 1);
  // Let go, it fires once.
  allow = true;
  REQUIRE(test::eventually([&] { return journal_of(**rt, "sink/held").size() == 1; }));
  CHECK((*rt)->timer_rows(is_held)->empty());
  CHECK(journal_of(**rt, "sink/held") == std::vector<std::string>{"tick"});
  (*rt)->stop();
}

TEST_CASE("without a placement function every actor is local and the outbox stays empty",
          "[placement]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  register_sinks(**rt);
  REQUIRE_FALSE((*rt)->start());
  REQUIRE((*rt)->tell("sink/a", memo{"fan out"}));
  REQUIRE(test::eventually([&] { return journal_of(**rt, "remote/x").size() == 1; }));
  CHECK(rows((*rt)->store(), column::outbox, "").empty());
  (*rt)->stop();
}

namespace {

/// Writes a data directory as layout 1 wrote it: ten column families (no
/// outbox), `meta` layout "1", and one waiting message for `sink/a`.
void write_layout_1(const std::string& path, const std::string& text) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
    {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{}}};
  for (const char* name : {"mailbox", "journal", "snapshot", "timer", "dead", "dedupe", "trace",
                           "topic", "subscription", "meta"})
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(opts, path, cfs, &handles, &db).ok());
  envelope env;
  env.id = next_envelope_id();
  env.from = "external";
  env.to = "sink/a";
  env.type = type_tag<memo>::value;
  env.payload = encode(memo{text});
  internal::mailbox_record rec{env, {}, {}};
  std::string seq;
  keys::append_be64(seq, 2);
  rocksdb::WriteBatch batch;
  batch.Put(handles[1], keys::actor_seq("sink/a", 1), encode(rec));
  // A journal event as layouts 1 and 2 stored it: type and payload only.
  step_effects::event old{type_tag<memo>::value, encode(memo{"journaled by layout 1"})};
  batch.Put(handles[2], keys::actor_seq("sink/old", 1), encode(old));
  // A span as layouts 1 to 3 stored it: keyed by trace id and span id,
  // CAF-serialized, in milliseconds.
  old_span span;
  span.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  span.span_id = "00f067aa0ba902b7";
  span.actor = "sink/old";
  span.status = "ok";
  span.start_ms = now_ms() - 5;
  span.end_ms = span.start_ms + 3;
  span.sent = {"0123abcd sink/a test.memo/v1"};
  batch.Put(handles[7], span.trace_id + span.span_id, encode(span));
  batch.Put(handles[10], "layout", "1");
  batch.Put(handles[10], "seq", seq);
  REQUIRE(db->Write(rocksdb::WriteOptions{}, &batch).ok());
  for (auto* h : handles)
    REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

std::string meta_layout(runtime& rt) {
  auto v = rt.store().get(column::meta, "layout");
  return v && *v ? **v : std::string{};
}

} // namespace

TEST_CASE("a data directory of layout 1 is migrated to the current layout and keeps its messages",
          "[layout][migration]") {
  test::temp_dir dir;
  auto path = dir.sub("data");
  write_layout_1(path, "written by layout 1");
  runtime_options o;
  o.data_dir = path;
  auto rt = runtime::open(o);
  REQUIRE(rt);
  CHECK(meta_layout(**rt) == std::to_string(layout_version));
  register_sinks(**rt);
  REQUIRE_FALSE((*rt)->start());
  CHECK(test::eventually(
    [&] { return journal_of(**rt, "sink/a") == std::vector<std::string>{"written by layout 1"}; }));
  // New messages take sequence numbers after the old ones.
  REQUIRE((*rt)->tell("sink/a", memo{"after the migration"}));
  CHECK(test::eventually([&] { return journal_of(**rt, "sink/a").size() == 2; }));
  // The old event survived the journal's new record format (layout 3): no
  // time or cause was recorded then; new events have both.
  std::vector<journal_entry> old_events, new_events;
  REQUIRE_FALSE((*rt)->read_journal("sink/old", 1, 10,
                                    [&](const journal_entry& e) { old_events.push_back(e); }));
  REQUIRE(old_events.size() == 1);
  CHECK(decode<memo>(old_events[0].payload)->text == "journaled by layout 1");
  CHECK(old_events[0].time_ms == 0);
  CHECK(old_events[0].cause.empty());
  REQUIRE_FALSE(
    (*rt)->read_journal("sink/a", 1, 10, [&](const journal_entry& e) { new_events.push_back(e); }));
  REQUIRE(new_events.size() == 2);
  CHECK(new_events[1].time_ms > 0);
  CHECK_FALSE(new_events[1].cause.empty());
  // The old span moved to its place in time order (layout 4) and is found
  // by its trace id; nothing is left under the old key.
  auto steps = (*rt)->trace_steps("4bf92f3577b34da6a3ce929d0e0e4736");
  REQUIRE(steps);
  REQUIRE(steps->size() == 1);
  // Its value has the compact encoding of layout 5, in microseconds.
  auto& moved = (*steps)[0];
  CHECK(moved.actor == "sink/old");
  CHECK(moved.status == span_status::ok);
  CHECK(moved.kind == span_kind::consumer);
  CHECK(moved.end_us - moved.start_us == 3000);
  REQUIRE(moved.sent.size() == 1);
  CHECK(moved.sent[0].id == "0123abcd");
  CHECK(moved.sent[0].to == "sink/a");
  CHECK(moved.sent[0].type == "test.memo/v1");
  size_t old_keys = 0;
  ignore_error((*rt)->store().scan(column::trace, "4bf92f", "", [&](auto, auto) {
    ++old_keys;
    return true;
  }));
  CHECK(old_keys == 0);
  // Layout 6: the index rows of layouts 4 and 5 are gone, and the indexer,
  // starting with no cursor, indexes the row; it is found through it.
  size_t old_index = 0;
  ignore_error((*rt)->store().scan(column::trace_index, "4bf92f", "", [&](auto, auto) {
    ++old_index;
    return true;
  }));
  CHECK(old_index == 0);
  CHECK(test::eventually([&] {
    auto at = (*rt)->store().get(column::trace_index, keys::span_index_cursor);
    return at && *at;
  }));
  auto indexed = (*rt)->trace_steps("4bf92f3577b34da6a3ce929d0e0e4736");
  REQUIRE(indexed);
  CHECK(indexed->size() == 1);
  CHECK(new_events[1].trace_id.size() == 32);
  (*rt)->stop();
  rt->reset();

  // Opening again finds the current layout: no second migration, nothing lost.
  auto again = runtime::open(o);
  REQUIRE(again);
  CHECK(meta_layout(**again) == std::to_string(layout_version));
  CHECK(journal_of(**again, "sink/a")
        == std::vector<std::string>{"written by layout 1", "after the migration"});
}

TEST_CASE("a data directory of an unknown layout is refused with the version it has", "[layout]") {
  test::temp_dir dir;
  auto path = dir.sub("data");
  {
    runtime_options o;
    o.data_dir = path;
    auto rt = runtime::open(o);
    REQUIRE(rt);
    write_set ws;
    ws.put(column::meta, "layout", "99");
    REQUIRE_FALSE((*rt)->store().write(ws, true));
  }
  runtime_options o;
  o.data_dir = path;
  auto rt = runtime::open(o);
  REQUIRE_FALSE(rt);
  CHECK(code_of(rt.error()) == errc::unknown_layout);
  CHECK_THAT(render(rt.error()), Catch::Contains("layout version 99"));
}

TEST_CASE("a supervision tree spawned through the runtime restarts its child and stops with it",
          "[supervisor][runtime]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  auto rt = runtime::open(std::move(o));
  REQUIRE(rt);
  // Before start there is no actor system to spawn on.
  auto early = (*rt)->spawn_supervisor(supervisor_spec{}, {});
  REQUIRE_FALSE(early);
  CHECK(code_of(early.error()) == errc::shutting_down);
  REQUIRE_FALSE((*rt)->start());

  std::atomic<uint32_t> starts{0};
  supervisor_spec spec;
  spec.on_start = [&](const std::string&, uint32_t n) { starts = n; };
  // The child fails on its first start and runs quietly after its restart.
  auto first = std::make_shared<std::atomic<bool>>(true);
  std::vector<child_spec> children{
    {"worker", [first](caf::actor_system& sys) {
       return sys.spawn([first](caf::event_based_actor* self) -> caf::behavior {
         if (first->exchange(false))
           self->quit(make_error(errc::handler_failed, "first start fails"));
         return {[](int) {}};
       });
     }}};
  auto sup = (*rt)->spawn_supervisor(spec, std::move(children));
  REQUIRE(sup);
  CHECK(test::eventually([&] { return starts.load() == 2; }));
  // stop() ends the tree; without that it would wait for it forever.
  (*rt)->stop();
  CHECK(starts.load() == 2);
}

TEST_CASE("a batch's new mailbox records, made in one block, are each record as written alone, "
          "and stay in place when the block moves",
          "[foundation][codec]") {
  std::vector<envelope> envs(3);
  for (size_t i = 0; i < envs.size(); ++i) {
    envs[i].id = next_envelope_id();
    envs[i].to = "order/" + std::to_string(i);
    envs[i].type = "demo.order/v1";
    envs[i].payload = std::string(100 * i, 'p'); // the first one's is empty
    envs[i].created_ms = static_cast<int64_t>(i);
  }
  internal::record_block block{envs};
  REQUIRE(block.size() == envs.size());
  std::vector<std::string_view> views;
  for (size_t i = 0; i < envs.size(); ++i) {
    CHECK(block.at(i) == internal::encode_new_mailbox_record(envs[i]));
    CHECK(internal::mailbox_record_to(block.at(i)) == envs[i].to);
    views.push_back(block.at(i));
  }
  // A staged row keeps a view of its record while its request moves.
  auto moved = std::move(block);
  for (size_t i = 0; i < envs.size(); ++i) {
    CHECK(moved.at(i).data() == views[i].data());
    CHECK(views[i] == internal::encode_new_mailbox_record(envs[i]));
  }
  CHECK(internal::record_block{}.size() == 0);
  CHECK(internal::record_block{std::vector<envelope>{}}.size() == 0);
}

TEST_CASE("a new mailbox row's record is written as the record type would be, and reads back",
          "[foundation][codec]") {
  envelope env;
  env.id = next_envelope_id();
  env.from = "order/7";
  env.to = "tool/create_ticket";
  env.type = "demo.ticket/v1";
  env.format = 1;
  env.payload = std::string(3000, 'p'); // larger than any earlier record on this thread
  env.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  env.idempotency_key = "k-1";
  env.attempt = 2;
  env.not_before_ms = 11;
  env.deadline_ms = 12;
  env.created_ms = 13;
  auto direct = internal::encode_new_mailbox_record(env);
  CHECK(direct == encode(internal::mailbox_record{env, {}, {}}));
  // Byte for byte as the record type's encoder writes it, for every field
  // at the edges of its encoding: lengths around each 7-bit group, integers
  // with all their bytes set, negative ones, empty strings.
  for (size_t len : {0u, 1u, 127u, 128u, 129u, 16383u, 16384u, 70000u}) {
    envelope e;
    e.id = std::string(len % 200, 'i');
    e.from = len % 2 ? "" : "order/7";
    e.to = std::string(len, 't');
    e.type = "demo.ticket/v1";
    e.format = static_cast<uint8_t>(len & 0xff);
    e.payload = std::string(len, '\xff');
    e.traceparent = std::string(len % 60, '0');
    e.idempotency_key = std::string(len / 2, 'k');
    e.attempt = 0x01020304u + static_cast<uint32_t>(len);
    e.not_before_ms = 0x0102030405060708 + static_cast<int64_t>(len);
    e.deadline_ms = -5 - static_cast<int64_t>(len);
    e.created_ms = INT64_MIN + static_cast<int64_t>(len);
    INFO("length " << len);
    auto rec = internal::encode_new_mailbox_record(e);
    CHECK(rec == encode(internal::mailbox_record{e, {}, {}}));
    // Its receiver, read in place; a record cut short inside it has none.
    auto to = internal::mailbox_record_to(rec);
    CHECK(to == e.to);
    if (!e.to.empty()) {
      auto end = static_cast<size_t>(to.data() - rec.data()) + to.size();
      auto cut = std::string_view{rec}.substr(0, end - 1);
      auto none = internal::mailbox_record_to(cut);
      CHECK(none.empty());
      CHECK(none.data() == cut.data() + cut.size()); // still a place in the record
    }
  }
  auto back = decode<internal::mailbox_record>(direct);
  REQUIRE(back);
  CHECK(back->env.payload == env.payload);
  CHECK(back->env.created_ms == 13);
  CHECK(back->attempt_ms.empty());
  CHECK(back->last_error.empty());
  // The per-thread buffer: a smaller record after a larger one carries no
  // bytes of it, and one encoded inside another's inspect() is whole too.
  envelope small;
  small.id = "x";
  auto again = decode<envelope>(encode(small));
  REQUIRE(again);
  CHECK(again->id == "x");
  CHECK(again->payload.empty());
  CHECK(encode(small).size() < 64);
}

TEST_CASE("actors of a kind that passivates at once get no memtable insert hints, others keep "
          "theirs, and the rows of both are stored and read back alike",
          "[storage][hints]") {
  test::temp_dir dir;
  runtime_options o;
  o.data_dir = dir.sub("data");
  auto rt = runtime::open(o);
  REQUIRE(rt);
  kind_options once;
  once.idle_timeout = std::chrono::milliseconds{0};
  REQUIRE_FALSE((*rt)->register_kind(
    "sinkonce", [](std::string_view) { return std::make_unique<sink>(); }, once));
  register_sinks(**rt);
  CHECK_FALSE(internal::insert_hinted("sinkonce/a"));
  CHECK_FALSE(internal::insert_hinted("sinkonce/b-with/slashes"));
  CHECK(internal::insert_hinted("sink/a"));
  CHECK(internal::insert_hinted("sinkonc/a"));   // a prefix of the kind's name
  CHECK(internal::insert_hinted("sinkoncee/a")); // the name and more
  REQUIRE_FALSE((*rt)->start());
  for (int i = 0; i < 20; ++i) {
    REQUIRE((*rt)->tell("sinkonce/a", memo{"m" + std::to_string(i)}));
    REQUIRE((*rt)->tell("sink/a", memo{"m" + std::to_string(i)}));
  }
  REQUIRE(test::eventually([&] { return (*rt)->idle(); }));
  REQUIRE_FALSE((*rt)->store().flush());
  auto a = journal_of(**rt, "sinkonce/a");
  CHECK(a.size() == 20);
  CHECK(a == journal_of(**rt, "sink/a"));
}
