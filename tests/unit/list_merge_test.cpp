// SPDX-License-Identifier: Apache-2.0
// Lists merged across the members of a cluster: every row once, in the
// list's order, pages that resume where each member left off.
#include <algorithm>
#include <random>
#include <set>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "list_merge.hpp"

using namespace cairn::cluster;
namespace json = boost::json;

namespace {

/// A member's page of actors as node_api::actors answers it.
std::string actors_page(const std::vector<std::string>& held, const std::string& cursor,
                        size_t limit) {
  json::array rows;
  std::string last;
  bool more = false;
  for (const auto& id : held) {
    if (id <= cursor)
      continue;
    if (rows.size() == limit) {
      more = true;
      break;
    }
    rows.push_back(json::object{{"id", id}});
    last = id;
  }
  return json::serialize(json::object{
    {"actors", rows}, {"next_cursor", more ? json::value(last) : json::value(nullptr)}});
}

std::vector<std::string> ids_of(const json::object& page, const char* field) {
  std::vector<std::string> out;
  for (const auto& r : page.at(field).as_array())
    out.emplace_back(r.at("id").as_string());
  return out;
}

} // namespace

TEST_CASE("merged pages stop where a member with more has to resume", "[cluster][lists]") {
  std::vector<member_page> pages{
    {"n1", actors_page({"a1", "a3", "a5", "a8"}, "", 3)},
    {"n2", actors_page({"a2", "a4", "a6", "a7"}, "", 3)},
  };
  auto v = json::parse(merge_pages("/api/v1/actors?limit=3", pages, {"n3"})).as_object();
  // n1 resumes after a5, n2 after a6; the page is full at a3, so both
  // resume after a3 and a4, a5 come next.
  CHECK(ids_of(v, "actors") == std::vector<std::string>{"a1", "a2", "a3"});
  CHECK(v.at("next_cursor") == json::value("a3"));
  CHECK(v.at("missing") == json::array{"n3"});
}

TEST_CASE("paging a merged list shows every row once and in order", "[cluster][lists]") {
  std::mt19937 gen{20261202};
  for (int round = 0; round < 50; ++round) {
    std::vector<std::vector<std::string>> held(3);
    std::vector<std::string> all;
    auto n = std::uniform_int_distribution<int>{0, 60}(gen);
    for (int k = 0; k < n; ++k) {
      char id[16];
      std::snprintf(id, sizeof id, "kind/%04d", k);
      all.emplace_back(id);
      held[std::uniform_int_distribution<size_t>{0, 2}(gen)].emplace_back(id);
    }
    auto limit = std::uniform_int_distribution<size_t>{1, 7}(gen);
    // A member may stop early, as a filtered dead-letter scan does: fewer
    // rows than the limit, and a cursor to resume from.
    std::vector<size_t> scan(3);
    for (auto& s : scan)
      s = std::uniform_int_distribution<size_t>{1, 9}(gen);
    std::string cursor;
    std::vector<std::string> seen;
    for (int page = 0; page < 500; ++page) {
      std::vector<member_page> pages;
      for (size_t m = 0; m < 3; ++m)
        pages.push_back(
          {"n" + std::to_string(m + 1), actors_page(held[m], cursor, std::min(limit, scan[m]))});
      auto target = "/api/v1/actors?limit=" + std::to_string(limit) + "&cursor=" + cursor;
      auto v = json::parse(merge_pages(target, pages, {})).as_object();
      auto rows = ids_of(v, "actors");
      REQUIRE(rows.size() <= limit);
      seen.insert(seen.end(), rows.begin(), rows.end());
      if (v.at("next_cursor").is_null())
        break;
      auto next = std::string{v.at("next_cursor").as_string()};
      REQUIRE(next > cursor); // every page moves on
      cursor = next;
    }
    INFO("round " << round << ", " << n << " rows, limit " << limit);
    CHECK(seen == all);
  }
}

TEST_CASE("plans merge newest first, approvals pending first, timers by due time",
          "[cluster][lists]") {
  auto plan = [](const char* id, int64_t at) {
    return json::object{{"id", id}, {"submitted_ms", at}};
  };
  std::vector<member_page> plans{
    {"n1", json::serialize(json::object{{"plans", json::array{plan("p3", 30), plan("p1", 10)}}})},
    {"n2", json::serialize(json::object{{"plans", json::array{plan("p4", 40), plan("p2", 20)}}})},
  };
  auto p = json::parse(merge_pages("/api/v1/plans?limit=3", plans, {})).as_object();
  CHECK(ids_of(p, "plans") == std::vector<std::string>{"p4", "p3", "p2"});
  CHECK(p.at("missing") == json::array{});

  auto approval = [](const char* id, const char* plan_id, const char* state) {
    return json::object{{"id", id}, {"plan", plan_id}, {"state", state}};
  };
  std::vector<member_page> approvals{
    {"n1", json::serialize(
             json::object{{"approvals", json::array{approval("plan/b/s", "plan/b", "approved")}}})},
    {"n2", json::serialize(
             json::object{{"approvals", json::array{approval("plan/a/s", "plan/a", "pending")}}})},
  };
  auto a = json::parse(merge_pages("/api/v1/approvals", approvals, {})).as_object();
  CHECK(ids_of(a, "approvals") == std::vector<std::string>{"plan/a/s", "plan/b/s"});

  auto timer = [](const char* id, int64_t due) {
    return json::object{{"id", id}, {"due_ms", due}};
  };
  std::vector<member_page> timers{
    {"n1", json::serialize(json::object{{"timers", json::array{timer("t2", 200)}}})},
    {"n2",
     json::serialize(json::object{{"timers", json::array{timer("t1", 100), timer("t3", 300)}}})},
  };
  auto t = json::parse(merge_pages("/api/v1/timers?limit=2", timers, {})).as_object();
  CHECK(ids_of(t, "timers") == std::vector<std::string>{"t1", "t2"});
}

TEST_CASE("a page that cannot be read leaves the list unmerged", "[cluster][lists]") {
  CHECK(merge_pages("/api/v1/actors", {{"n1", "not json"}}, {}).empty());
  CHECK(merge_pages("/api/v1/actors", {{"n1", R"({"plans":[]})"}}, {}).empty());
  CHECK(merge_pages("/api/v1/status", {{"n1", "{}"}}, {}).empty());
  CHECK(merged_list("/api/v1/dead-letters"));
  CHECK_FALSE(merged_list("/api/v1/dead-letters/x"));
}
