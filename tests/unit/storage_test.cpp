// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "cairn/error.hpp"
#include "cairn/storage.hpp"
#include "temp_dir.hpp"

using namespace cairn;

TEST_CASE("a new data directory gets the current layout version", "[storage]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto v = (*st)->get(column::meta, "layout");
  REQUIRE(v);
  REQUIRE(*v);
  CHECK(**v == std::to_string(layout_version));
}

TEST_CASE("a node refuses a layout version it does not know", "[storage][layout]") {
  test::temp_dir dir;
  {
    auto st = open_rocksdb({dir.path(), false});
    REQUIRE(st);
    write_set ws;
    ws.put(column::meta, "layout", "99");
    REQUIRE_FALSE((*st)->write(ws, true));
  }
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE_FALSE(st);
  CHECK(code_of(st.error()) == errc::unknown_layout);
  CHECK(render(st.error()).find("layout version 99") != std::string::npos);
}

TEST_CASE("a second open of the same directory is refused as in use", "[storage]") {
  test::temp_dir dir;
  auto first = open_rocksdb({dir.path(), false});
  REQUIRE(first);
  auto second = open_rocksdb({dir.path(), false});
  REQUIRE_FALSE(second);
  CHECK(code_of(second.error()) == errc::storage_in_use);
  CHECK(render(second.error()).find("in use by another cairn node") != std::string::npos);
}

TEST_CASE(
  "a key written once and deleted once is gone, before and after a flush, while one written "
  "twice comes back after a single deletion (why overwritten rows take erase)",
  "[storage][single-delete]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto& s = **st;
  auto value_of = [&](const std::string& key) {
    auto got = s.get(column::mailbox, key);
    REQUIRE(got);
    return got->value_or("(none)");
  };
  write_set put;
  put.put(column::mailbox, "once", "v1");
  put.put(column::mailbox, "twice", "v1");
  put.put(column::mailbox, "twice-erased", "v1");
  REQUIRE_FALSE(s.write(put, false));
  REQUIRE_FALSE(s.flush()); // the first writes in a table file
  write_set overwrite;
  overwrite.put(column::mailbox, "twice", "v2");
  overwrite.put(column::mailbox, "twice-erased", "v2");
  REQUIRE_FALSE(s.write(overwrite, false));
  write_set del;
  del.erase_once(column::mailbox, "once");
  del.erase_once(column::mailbox, "twice");   // against the rule
  del.erase(column::mailbox, "twice-erased"); // as the rule says
  REQUIRE_FALSE(s.write(del, false));
  CHECK(value_of("once") == "(none)");
  CHECK(value_of("twice") == "(none)"); // for now
  CHECK(value_of("twice-erased") == "(none)");
  // The flush drops the single deletion with the write it meets (v2): the
  // older write, in the table file, is seen again.
  REQUIRE_FALSE(s.flush());
  CHECK(value_of("once") == "(none)");
  CHECK(value_of("twice") == "v1");
  CHECK(value_of("twice-erased") == "(none)");
}

TEST_CASE("storage counts the bytes its writes put in the log, and nothing for reads",
          "[storage]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto& s = **st;
  auto before = s.bytes_written(); // the open may write its layout row
  write_set ws;
  ws.put(column::mailbox, "key-1", std::string(1000, 'x'));
  REQUIRE_FALSE(s.write(ws, false));
  auto one = s.bytes_written() - before;
  // The key and value, and a few bytes of framing (a batch header, the
  // record's type, column family and lengths).
  CHECK(one >= 1005);
  CHECK(one <= 1005 + 32);
  REQUIRE(s.get(column::mailbox, "key-1"));
  REQUIRE_FALSE(s.scan(column::mailbox, "", "", [](auto, auto) { return true; }));
  CHECK(s.bytes_written() - before == one);
  write_set del;
  del.erase_once(column::mailbox, "key-1");
  REQUIRE_FALSE(s.write(del, true));
  auto two = s.bytes_written() - before - one;
  CHECK(two >= 5);
  CHECK(two <= 5 + 32);
}

TEST_CASE("a write set is atomic and scans run in key order within a prefix", "[storage]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto& s = **st;
  write_set ws;
  // Journal keys are `actor \0 be64(seq)` (keys::actor_seq).
  ws.put(column::journal, std::string{"a\0\0\0\0\0\0\0\0\x02", 10}, "two");
  ws.put(column::journal, std::string{"a\0\0\0\0\0\0\0\0\x01", 10}, "one");
  ws.put(column::journal, std::string{"ab\0\0\0\0\0\0\0\0\x01", 11}, "other actor");
  ws.put(column::mailbox, "m", "mail");
  REQUIRE_FALSE(s.write(ws, true));
  std::vector<std::string> seen;
  REQUIRE_FALSE(s.scan(column::journal, std::string{"a\0", 2}, "", [&](auto, auto v) {
    seen.emplace_back(v);
    return true;
  }));
  REQUIRE(seen == std::vector<std::string>{"one", "two"});
  std::string last;
  REQUIRE_FALSE(s.last(column::journal, std::string{"a\0", 2}, [&](auto, auto v) {
    last = std::string{v};
    return false;
  }));
  CHECK(last == "two");
  write_set del;
  del.erase(column::mailbox, "m");
  REQUIRE_FALSE(s.write(del, false));
  auto m = s.get(column::mailbox, "m");
  REQUIRE(m);
  CHECK_FALSE(*m);
}

namespace {

std::string row(std::string_view actor, uint64_t seq) {
  std::string k{actor};
  k.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8)
    k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

std::string prefix_of(std::string_view actor) {
  return std::string{actor} + std::string(1, '\0');
}

/// The values of the rows a scan visits, in order.
std::vector<std::string> scanned(storage& st, column cf, std::string_view prefix,
                                 std::string_view from = {}) {
  std::vector<std::string> out;
  REQUIRE_FALSE(st.scan(cf, prefix, from, [&](std::string_view, std::string_view v) {
    out.emplace_back(v);
    return true;
  }));
  return out;
}

} // namespace

TEST_CASE("an actor's rows are found by its prefix in the memtable and in table files, and an "
          "actor without rows finds none",
          "[storage]") {
  test::temp_dir dir;
  using rows = std::vector<std::string>;
  auto check = [](storage& st, column cf, bool all_written) {
    CHECK(scanned(st, cf, prefix_of("k/a"))
          == (all_written ? rows{"a1", "a2", "a3", "a4"} : rows{"a1", "a2", "a3"}));
    CHECK(scanned(st, cf, prefix_of("k/a"), row("k/a", 2))
          == (all_written ? rows{"a2", "a3", "a4"} : rows{"a2", "a3"}));
    CHECK(scanned(st, cf, prefix_of("k/ab")) == rows{"ab1"});
    CHECK(scanned(st, cf, prefix_of("k/b")) == rows{"b5"});
    CHECK(scanned(st, cf, prefix_of("k/c")) == (all_written ? rows{"c1"} : rows{}));
    CHECK(scanned(st, cf, prefix_of("k/none")).empty());
    CHECK(scanned(st, cf, prefix_of("k")).empty()); // "k" is no actor of these rows
    // A prefix that is not one actor's, and the whole family: key order.
    CHECK(scanned(st, cf, "k/a")
          == (all_written ? rows{"a1", "a2", "a3", "a4", "ab1"} : rows{"a1", "a2", "a3", "ab1"}));
    CHECK(scanned(st, cf, "").size() == (all_written ? 7 : 5));
    std::string last;
    REQUIRE_FALSE(st.last(cf, prefix_of("k/a"), [&](std::string_view, std::string_view v) {
      last = v;
      return false;
    }));
    CHECK(last == (all_written ? "a4" : "a3"));
  };
  {
    auto st = open_rocksdb({dir.path(), false});
    REQUIRE(st);
    for (auto cf : {column::mailbox, column::journal}) {
      write_set ws;
      ws.put(cf, row("k/a", 1), "a1");
      ws.put(cf, row("k/a", 2), "a2");
      ws.put(cf, row("k/a", 3), "a3");
      ws.put(cf, row("k/ab", 1), "ab1");
      ws.put(cf, row("k/b", 5), "b5");
      REQUIRE_FALSE((*st)->write(ws, true));
    }
    REQUIRE_FALSE((*st)->flush()); // into table files
    for (auto cf : {column::mailbox, column::journal})
      check(**st, cf, false);
    for (auto cf : {column::mailbox, column::journal}) {
      write_set ws;
      ws.put(cf, row("k/a", 4), "a4");
      ws.put(cf, row("k/c", 1), "c1");
      REQUIRE_FALSE((*st)->write(ws, true)); // in the memtable
    }
    for (auto cf : {column::mailbox, column::journal})
      check(**st, cf, true);
  }
  auto st = open_rocksdb({dir.path(), false}); // the log replayed
  REQUIRE(st);
  for (auto cf : {column::mailbox, column::journal})
    check(**st, cf, true);
}

namespace {

/// A storage of its own that keeps `storage`'s default `ingest`: every call
/// but `ingest` goes to the RocksDB storage underneath.
class plain_storage final : public storage {
public:
  explicit plain_storage(storage& under) : under_(under) {}
  caf::error write(const write_set& ops, bool sync) override {
    ++writes;
    return under_.write(ops, sync);
  }
  caf::expected<std::optional<std::string>> get(column cf, std::string_view key) override {
    return under_.get(cf, key);
  }
  caf::error scan(column cf, std::string_view prefix, std::string_view from,
                  const scan_fn& fn) override {
    return under_.scan(cf, prefix, from, fn);
  }
  caf::error last(column cf, std::string_view prefix, const scan_fn& fn) override {
    return under_.last(cf, prefix, fn);
  }
  std::vector<std::pair<std::string, uint64_t>> properties() override {
    return under_.properties();
  }
  caf::error flush() override { return under_.flush(); }
  size_t writes = 0;

private:
  storage& under_;
};

std::vector<std::pair<std::string, std::string>> rows_of(storage& s, column cf) {
  std::vector<std::pair<std::string, std::string>> out;
  REQUIRE_FALSE(s.scan(cf, "", "", [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  }));
  return out;
}

} // namespace

TEST_CASE("ingest takes rows as views or produced one at a time, each in one piece",
          "[storage][ingest]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto& s = **st;
  // Produced one at a time into the same two strings, which the storage
  // must copy before asking for the next.
  int n = 0;
  REQUIRE_FALSE(s.ingest(column::trace_index, [&](std::string& key, std::string& value) {
    if (n == 3)
      return false;
    key = "k" + std::to_string(n);
    value = "v" + std::to_string(n);
    ++n;
    return true;
  }));
  using rows = std::vector<std::pair<std::string, std::string>>;
  CHECK(rows_of(s, column::trace_index) == rows{{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}});
  // No row: nothing written, no error.
  REQUIRE_FALSE(s.ingest(column::trace_index, [](std::string&, std::string&) { return false; }));
  CHECK(rows_of(s, column::trace_index).size() == 3);
  // As views, later in key order.
  std::vector<std::pair<std::string_view, std::string_view>> views{{"k3", "v3"}, {"k4", ""}};
  REQUIRE_FALSE(s.ingest(column::trace_index, views));
  CHECK(rows_of(s, column::trace_index)
        == rows{{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}, {"k4", ""}});

  SECTION("a storage without an ingestion of its own writes the rows in one synced write") {
    plain_storage plain{s};
    std::vector<std::pair<std::string_view, std::string_view>> more{{"k5", "v5"}, {"k6", "v6"}};
    REQUIRE_FALSE(plain.ingest(column::trace_index, more));
    CHECK(plain.writes == 1);
    REQUIRE_FALSE(
      plain.ingest(column::trace_index, [](std::string&, std::string&) { return false; }));
    CHECK(plain.writes == 1); // no row: no write
    auto all = rows_of(s, column::trace_index);
    REQUIRE(all.size() == 7);
    CHECK(all[5] == std::pair<std::string, std::string>{"k5", "v5"});
    CHECK(all[6] == std::pair<std::string, std::string>{"k6", "v6"});
  }
}
