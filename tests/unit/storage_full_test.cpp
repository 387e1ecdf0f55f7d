// SPDX-License-Identifier: Apache-2.0
// The RocksDB adapter on a real, small filesystem that fills up: writes are
// refused (never a crash), reads keep working, and it recovers by itself.
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "cairn/error.hpp"
#include "cairn/storage.hpp"
#include "temp_dir.hpp"
#include "tmpfs_mount.hpp"
#include "wait.hpp"

using namespace cairn;

TEST_CASE("a full disk makes storage refuse writes without crashing, keeps reads, and recovers "
          "once space is freed",
          "[storage][disk-full]") {
  test::temp_dir tmp;
  std::filesystem::create_directories(tmp.sub("mnt"));
  test::tmpfs_mount mnt{tmp.sub("mnt"), 16};
  auto opened = open_rocksdb(storage_options{mnt.dir() + "/data"});
  REQUIRE(opened);
  auto& st = **opened;
  CHECK(st.health().writable);

  std::mutex mtx;
  std::set<std::string> acked;
  auto put = [&](const std::string& key) {
    write_set ws;
    ws.put(column::journal, key, std::string(2048, 'v'));
    auto err = st.write(ws, false);
    if (!err) {
      std::lock_guard<std::mutex> g{mtx};
      acked.insert(key);
    }
    return err;
  };
  REQUIRE_FALSE(put("before"));
  mnt.fill("filler", 256 * 1024);

  // Writers and readers hammer the storage while it fails and reopens: the
  // column family handles they use must never be destroyed under them.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(); ++i) {
        auto err = put("t" + std::to_string(t) + "-" + std::to_string(i));
        if (err) {
          CHECK(code_of(err) == errc::storage_write_failed);
          refused.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        (void)st.get(column::journal, "before");
      }
    });
  REQUIRE(test::eventually([&] { return !st.health().writable; }));
  auto health = st.health();
  CHECK(health.outages == 1);
  CHECK_FALSE(health.reason.empty());
  // Reads are served from the failed or the read-only reopened database.
  REQUIRE(test::eventually([&] {
    auto v = st.get(column::journal, "before");
    return v && *v;
  }));
  // Writes keep being refused (never a crash) across several reopen
  // attempts. A reopen may succeed meanwhile: closing the failed database
  // returns RocksDB's preallocated log space, so outages may repeat.
  mnt.fill("filler2", 0);
  REQUIRE(test::eventually([&] { return refused.load() > 200; }));

  mnt.release("filler");
  mnt.release("filler2");
  REQUIRE(test::eventually([&] { return st.recover(); }));
  stop = true;
  for (auto& t : threads)
    t.join();
  health = st.health();
  CHECK(health.writable);
  CHECK(health.outages >= 1);
  REQUIRE_FALSE(put("after"));
  // Every acknowledged write is there.
  std::lock_guard<std::mutex> g{mtx};
  for (const auto& key : acked) {
    auto v = st.get(column::journal, key);
    REQUIRE(v);
    CHECK(*v);
  }
}
