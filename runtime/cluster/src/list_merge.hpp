// SPDX-License-Identifier: Apache-2.0
// Lists every member holds a part of (actors, dead letters, plans,
// approvals, timers), merged into one page (docs/cluster.md, "Reads
// anywhere"). Pure functions: the HTTP side is in read_proxy.cpp.
#pragma once

#include <string>
#include <vector>

namespace cairn::cluster {

/// One member's answer to the same list request.
struct member_page {
  std::string node_id;
  std::string body; ///< its JSON body (status 200)
};

/// Whether `path` (no query) names a list merged across members.
bool merged_list(const std::string& path);

/// One page from the members' pages of the list `target` asks for, in the
/// list's order and at most its `limit`. For a list with a cursor (actors,
/// dead letters: ascending ids, `next_cursor` = resume after this id) the
/// merged `next_cursor` is the smallest point any member has to resume
/// from, and rows past it are left for the next page: nothing is skipped,
/// nothing shown twice. `missing` names the members that did not answer.
/// "" if a page cannot be read (the caller then answers with its own).
std::string merge_pages(const std::string& target, const std::vector<member_page>& pages,
                        const std::vector<std::string>& missing);

} // namespace cairn::cluster
