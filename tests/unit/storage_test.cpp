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

TEST_CASE("a write set is atomic and scans run in key order within a prefix", "[storage]") {
  test::temp_dir dir;
  auto st = open_rocksdb({dir.path(), false});
  REQUIRE(st);
  auto& s = **st;
  write_set ws;
  ws.put(column::journal, std::string{"a\0\x02", 3}, "two");
  ws.put(column::journal, std::string{"a\0\x01", 3}, "one");
  ws.put(column::journal, std::string{"ab\0\x01", 4}, "other actor");
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
