// SPDX-License-Identifier: Apache-2.0
// The format name table, and the small formats: json-pointer, relative-json-pointer, uuid,
// regex. Plus base64 and JSON text checks for draft-07 content assertions.
#include "internal/format.hpp"

#include "internal/ecma_regex.hpp"
#include "internal/format_checks.hpp"

#include <boost/json/parse.hpp>

#include <utility>

namespace cairn::schema::internal {

namespace {

bool is_json_pointer(std::string_view s) {
  if (s.empty())
    return true;
  if (s[0] != '/')
    return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '~' && (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1')))
      return false;
  return true;
}

bool is_relative_json_pointer(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  if (i == 0 || (i > 1 && s[0] == '0'))
    return false;
  std::string_view rest = s.substr(i);
  return rest == "#" || is_json_pointer(rest);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36)
    return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (dash ? c != '-' : !hex)
      return false;
  }
  return true;
}

bool is_regex(std::string_view s) {
  return is_ecma_regex(s);
}

} // namespace

format_checker find_format(std::string_view name) {
  static constexpr std::pair<std::string_view, format_checker> table[] = {
    {"date", is_date},
    {"time", is_time},
    {"date-time", is_date_time},
    {"duration", is_duration},
    {"ipv4", is_ipv4},
    {"ipv6", is_ipv6},
    {"hostname", is_hostname},
    {"idn-hostname", is_idn_hostname},
    {"email", is_email},
    {"idn-email", is_idn_email},
    {"uri", is_uri},
    {"uri-reference", is_uri_reference},
    {"iri", is_iri},
    {"iri-reference", is_iri_reference},
    {"uri-template", is_uri_template},
    {"json-pointer", is_json_pointer},
    {"relative-json-pointer", is_relative_json_pointer},
    {"uuid", is_uuid},
    {"regex", is_regex},
  };
  for (auto [n, check] : table)
    if (n == name)
      return check;
  return nullptr;
}

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    int v = (c >= 'A' && c <= 'Z')   ? c - 'A'
            : (c >= 'a' && c <= 'z') ? c - 'a' + 26
            : (c >= '0' && c <= '9') ? c - '0' + 52
            : c == '+'               ? 62
            : c == '/'               ? 63
                                     : -1;
    if (c == '=') {
      if (i + 2 < text.size() || (i + 1 < text.size() && text[i + 1] != '='))
        return std::nullopt;
      break;
    }
    if (v < 0)
      return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

bool is_json_text(std::string_view text) {
  boost::json::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

} // namespace cairn::schema::internal
