// SPDX-License-Identifier: Apache-2.0
// The RocksDB adapter on a real, small filesystem that fills up: writes are
// refused (never a crash), reads keep working, and it recovers by itself.
#include <atomic>
#include <filesystem>
#include <map>
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

namespace {

constexpr uint64_t spare_bytes = uint64_t{1} << 20;

/// The database's write-ahead logs, by name, with their sizes.
std::map<std::string, uint64_t> logs_in(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".log")
      out[e.path().filename().string()] = e.file_size();
  return out;
}

} // namespace

TEST_CASE("a log started on a spare file of zeros recovers every synced write from a crash image, "
          "and the next log starts on a new spare",
          "[storage][wal-spare]") {
  test::temp_dir tmp;
  auto dir = tmp.sub("data");
  storage_options so;
  so.dir = dir;
  so.wal_spare_bytes = spare_bytes;
  auto opened = open_rocksdb(so);
  REQUIRE(opened);
  auto& st = **opened;
  // The log the open started is the spare, renamed: its size is the
  // spare's, its records are written from its start.
  auto logs = logs_in(dir);
  REQUIRE(logs.size() == 1);
  CHECK(logs.begin()->second == spare_bytes);
  auto on_spare = [&] {
    for (const auto& [name, value] : st.properties())
      if (name == "wal.logs-on-spare")
        return static_cast<int64_t>(value);
    return int64_t{-1};
  };
  CHECK(on_spare() == 1);

  for (int i = 0; i < 300; ++i) {
    write_set ws;
    ws.put(column::journal, "k" + std::to_string(i),
           std::string(200, static_cast<char>('a' + i % 26)));
    REQUIRE_FALSE(st.write(ws, true));
  }
  // What a crash leaves: the files as they are now, zeros after the last
  // record included (every write above was synced).
  auto image = tmp.sub("image");
  std::filesystem::copy(dir, image, std::filesystem::copy_options::recursive);
  auto image_logs = logs_in(image);
  REQUIRE(image_logs.size() == 1);
  CHECK(image_logs.begin()->second == spare_bytes);
  {
    auto recovered = open_rocksdb(storage_options{image});
    REQUIRE(recovered);
    for (int i = 0; i < 300; ++i) {
      auto got = (*recovered)->get(column::journal, "k" + std::to_string(i));
      REQUIRE(got);
      REQUIRE(*got);
      CHECK(**got == std::string(200, static_cast<char>('a' + i % 26)));
    }
  }

  // The spare was taken: the next one is written in the background, and
  // the log a flush starts is on it.
  REQUIRE(test::eventually([&] { return std::filesystem::exists(dir + "/wal.spare"); }));
  REQUIRE_FALSE(st.flush());
  auto after = logs_in(dir);
  REQUIRE(after.size() >= 1);
  CHECK(after.rbegin()->first != logs.begin()->first);
  CHECK(after.rbegin()->second == spare_bytes);
  CHECK(on_spare() == 2);
}

TEST_CASE("no spare log file is written on a file system with little room, and storage works "
          "without one",
          "[storage][wal-spare][disk-full]") {
  test::temp_dir tmp;
  std::filesystem::create_directories(tmp.sub("mnt"));
  test::tmpfs_mount mnt{tmp.sub("mnt"), 16};
  storage_options so;
  so.dir = mnt.dir() + "/data";
  so.wal_spare_bytes = uint64_t{4} << 20; // 8 times as much would not fit in 16 MiB
  auto opened = open_rocksdb(so);
  REQUIRE(opened);
  CHECK_FALSE(std::filesystem::exists(so.dir + "/wal.spare"));
  CHECK_FALSE(std::filesystem::exists(so.dir + "/wal.spare.partial"));
  for (const auto& [name, size] : logs_in(so.dir))
    CHECK(size < so.wal_spare_bytes);
  write_set ws;
  ws.put(column::journal, "k", "v");
  REQUIRE_FALSE((*opened)->write(ws, true));
  auto got = (*opened)->get(column::journal, "k");
  REQUIRE(got);
  REQUIRE(*got);
  CHECK(**got == "v");
}
