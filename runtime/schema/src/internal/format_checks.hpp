// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace cairn::schema::internal {

// The individual `format` checks (RFC 3339, 5321, 1123/5890, 2673/4291, 3986/3987, 6570, 6901,
// 4122 and ECMA-262), each on a UTF-8 string. format.cpp maps format names to them.

bool is_date(std::string_view s);
bool is_time(std::string_view s);
bool is_date_time(std::string_view s);
bool is_duration(std::string_view s);

bool is_ipv4(std::string_view s);
bool is_ipv6(std::string_view s);
bool is_hostname(std::string_view s);
bool is_idn_hostname(std::string_view s);
bool is_email(std::string_view s);
bool is_idn_email(std::string_view s);

bool is_uri(std::string_view s);
bool is_uri_reference(std::string_view s);
bool is_iri(std::string_view s);
bool is_iri_reference(std::string_view s);
bool is_uri_template(std::string_view s);

} // namespace cairn::schema::internal
