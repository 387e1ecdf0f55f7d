// SPDX-License-Identifier: Apache-2.0
#include "internal/ecma_regex.hpp"

#include "internal/regex_translation.hpp"
#include "internal/utf8.hpp"

#include <algorithm>

namespace cairn::schema::internal {

namespace {

constexpr std::size_t max_pattern_size = 16 * 1024;

} // namespace

std::shared_ptr<const ecma_regex> ecma_regex::compile(std::string_view pattern,
                                                      std::string& error) {
  if (pattern.size() > max_pattern_size) {
    error = "pattern longer than 16 KiB";
    return nullptr;
  }
  auto t = translate_pattern(pattern, false);
  if (!t.syntax_error.empty()) {
    error = "invalid ECMA-262 regular expression: " + t.syntax_error;
    return nullptr;
  }
  if (!t.unsupported.empty()) {
    error = "unsupported regular expression: " + t.unsupported;
    return nullptr;
  }
  if (t.has_backreference) {
    error = "unsupported regular expression: backreferences are not supported";
    return nullptr;
  }
  auto narrow = translate_pattern(pattern, true);
  std::string ascii;
  for (wchar_t c : narrow.pattern)
    ascii += static_cast<char>(c);
  try {
    constexpr auto flags = std::regex_constants::ECMAScript | std::regex_constants::__polynomial;
    return std::make_shared<const ecma_regex>(std::regex(ascii, flags),
                                              std::wregex(t.pattern, flags));
  } catch (const std::exception& e) {
    error = std::string("invalid regular expression: ") + e.what();
    return nullptr;
  }
}

bool ecma_regex::search(std::string_view text) const {
  try {
    bool ascii = std::all_of(text.begin(), text.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii)
      return std::regex_search(text.begin(), text.end(), ascii_);
    auto wide = utf8_decode<std::wstring>(text);
    return std::regex_search(wide, wide_);
  } catch (const std::exception&) {
    return false;
  }
}

bool is_ecma_regex(std::string_view pattern) {
  if (pattern.size() > max_pattern_size)
    return false;
  auto t = translate_pattern(pattern, false);
  if (!t.syntax_error.empty())
    return false;
  if (!t.unsupported.empty())
    return true; // valid ECMA-262 that std::regex cannot check further
  try {
    std::wregex re(t.pattern, std::regex_constants::ECMAScript);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace cairn::schema::internal
