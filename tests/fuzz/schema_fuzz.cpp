// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the input is a schema, a newline, then an instance. Both are parsed, the schema is
// compiled (any options the first byte selects), the instance validated both ways. Nothing may
// crash, hang, or throw out of the library; the two validation paths must agree.
#include <cairn/schema/validator.hpp>

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  if (newline == std::string_view::npos)
    return 0;
  boost::json::error_code ec;
  boost::json::value schema = boost::json::parse(input.substr(0, newline), ec);
  if (ec)
    return 0;
  boost::json::value instance = boost::json::parse(input.substr(newline + 1), ec);
  if (ec)
    return 0;
  cairn::schema::compile_options options;
  options.format_assertion = (size & 1) != 0;
  options.default_dialect =
    (size & 2) != 0 ? cairn::schema::dialect::draft07 : cairn::schema::dialect::draft2020_12;
  options.max_evaluations = 200'000;
  options.max_pattern_input = 4096;
  auto compiled = cairn::schema::validator::compile(schema, options);
  if (!compiled)
    return 0;
  bool fast = compiled->is_valid(instance);
  auto full = compiled->validate(instance);
  if (fast != full.valid() && full.errors().back().message.find("exceeded") == std::string::npos)
    std::abort();
  return 0;
}
