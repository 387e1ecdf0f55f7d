// SPDX-License-Identifier: Apache-2.0
// Validations per second of cairn_schema against valijson (Debian's libvalijson-dev, draft-07)
// on a realistic tool-call schema: nested objects, arrays of objects, enums, patterns, required,
// additionalProperties false. Both run the same draft-07 schema in the same process; cairn is
// also measured on the 2020-12 form of the schema with unevaluatedProperties. Not a test: it
// prints a table and asserts nothing.
#include <cairn/schema/validator.hpp>

#include <boost/json/parse.hpp>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr const char* tool_schema_07 = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["customer", "items", "shipping"],
  "additionalProperties": false,
  "properties": {
    "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]{8,16}$"},
    "customer": {
      "type": "object",
      "required": ["id", "email"],
      "additionalProperties": false,
      "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+\\.[a-z]{2,}$", "maxLength": 254},
        "tier": {"enum": ["free", "pro", "enterprise"]}
      }
    },
    "items": {
      "type": "array",
      "minItems": 1,
      "maxItems": 100,
      "items": {
        "type": "object",
        "required": ["sku", "quantity"],
        "additionalProperties": false,
        "properties": {
          "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
          "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
          "unit_price": {"type": "number", "exclusiveMinimum": 0},
          "tags": {"type": "array", "items": {"type": "string", "maxLength": 32},
                   "uniqueItems": true}
        }
      }
    },
    "shipping": {
      "type": "object",
      "required": ["method", "address"],
      "additionalProperties": false,
      "properties": {
        "method": {"enum": ["standard", "express", "overnight"]},
        "address": {
          "type": "object",
          "required": ["line1", "city", "country"],
          "additionalProperties": false,
          "properties": {
            "line1": {"type": "string", "minLength": 1, "maxLength": 200},
            "line2": {"type": "string", "maxLength": 200},
            "city": {"type": "string", "minLength": 1},
            "postcode": {"type": "string", "pattern": "^[A-Za-z0-9 -]{3,10}$"},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"}
          }
        }
      }
    },
    "notes": {"type": ["string", "null"], "maxLength": 1000},
    "dry_run": {"type": "boolean"}
  }
})";

constexpr const char* valid_instance = R"({
  "order_id": "ord_a1b2c3d4e5",
  "customer": {"id": 42, "email": "ada@example.com", "tier": "pro"},
  "items": [
    {"sku": "ABC-1234", "quantity": 2, "unit_price": 9.99, "tags": ["gift", "fragile"]},
    {"sku": "XYZ-0001", "quantity": 1, "unit_price": 120.5},
    {"sku": "DEF-4321", "quantity": 10, "tags": ["bulk"]}
  ],
  "shipping": {"method": "express",
               "address": {"line1": "1 Main St", "city": "Springfield", "postcode": "12345",
                           "country": "US"}},
  "notes": null,
  "dry_run": false
})";

constexpr const char* invalid_instance = R"({
  "order_id": "ord_a1b2c3d4e5",
  "customer": {"id": 42, "email": "ada@example.com", "tier": "pro"},
  "items": [
    {"sku": "ABC-1234", "quantity": 2, "unit_price": 9.99, "tags": ["gift", "fragile"]},
    {"sku": "XYZ-0001", "quantity": 1, "unit_price": 120.5},
    {"sku": "def-4321", "quantity": 0, "tags": ["bulk"]}
  ],
  "shipping": {"method": "teleport",
               "address": {"line1": "1 Main St", "city": "Springfield", "country": "USA"}},
  "extra": true
})";

// The 2020-12 form: the item and address schemas come from $defs through allOf, and
// unevaluatedProperties (which sees through allOf) closes them.
std::string schema_2020_12() {
  return R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$defs": {
    "priced": {"properties": {"unit_price": {"type": "number", "exclusiveMinimum": 0}}},
    "item": {
      "type": "object",
      "required": ["sku", "quantity"],
      "allOf": [{"$ref": "#/$defs/priced"}],
      "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 32}, "uniqueItems": true}
      },
      "unevaluatedProperties": false
    }
  },
  "type": "object",
  "required": ["customer", "items", "shipping"],
  "properties": {
    "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]{8,16}$"},
    "customer": {
      "type": "object", "required": ["id", "email"], "unevaluatedProperties": false,
      "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+\\.[a-z]{2,}$", "maxLength": 254},
        "tier": {"enum": ["free", "pro", "enterprise"]}
      }
    },
    "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"$ref": "#/$defs/item"}},
    "shipping": {
      "type": "object", "required": ["method", "address"], "unevaluatedProperties": false,
      "properties": {
        "method": {"enum": ["standard", "express", "overnight"]},
        "address": {
          "type": "object", "required": ["line1", "city", "country"],
          "unevaluatedProperties": false,
          "properties": {
            "line1": {"type": "string", "minLength": 1, "maxLength": 200},
            "line2": {"type": "string", "maxLength": 200},
            "city": {"type": "string", "minLength": 1},
            "postcode": {"type": "string", "pattern": "^[A-Za-z0-9 -]{3,10}$"},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"}
          }
        }
      }
    },
    "notes": {"type": ["string", "null"], "maxLength": 1000},
    "dry_run": {"type": "boolean"}
  },
  "unevaluatedProperties": false
})";
}

// Runs the candidates in alternating 20 ms slices for about `seconds` in total, so that load
// from other processes hits all of them alike; returns calls per second of each.
std::vector<double> rates(double seconds, const std::vector<std::function<bool()>>& fns,
                          bool expected) {
  using clock = std::chrono::steady_clock;
  std::vector<std::size_t> calls(fns.size());
  std::vector<double> busy(fns.size());
  auto end = clock::now() + std::chrono::duration<double>(seconds);
  while (clock::now() < end) {
    for (std::size_t f = 0; f < fns.size(); ++f) {
      auto start = clock::now();
      auto slice = start + std::chrono::milliseconds(20);
      do {
        for (int i = 0; i < 20; ++i) {
          if (fns[f]() != expected) {
            std::fprintf(stderr, "unexpected validation outcome\n");
            std::exit(1);
          }
        }
        calls[f] += 20;
      } while (clock::now() < slice);
      busy[f] += std::chrono::duration<double>(clock::now() - start).count();
    }
  }
  std::vector<double> out;
  for (std::size_t f = 0; f < fns.size(); ++f)
    out.push_back(static_cast<double>(calls[f]) / busy[f]);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: %s [--seconds N]\n"
                  "Validations per second, cairn_schema vs valijson, on a tool-call schema\n"
                  "(valid and invalid instance; fast path and full error collection).\n"
                  "  --seconds N   measuring time per row (default 3)\n",
                  argv[0]);
      return 0;
    }
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = std::atof(argv[++i]);
  }
  auto schema07 = boost::json::parse(tool_schema_07);
  auto schema2020 = boost::json::parse(schema_2020_12());
  auto good = boost::json::parse(valid_instance);
  auto bad = boost::json::parse(invalid_instance);

  auto ours07 = cairn::schema::validator::compile(schema07);
  auto ours2020 = cairn::schema::validator::compile(schema2020);
  if (!ours07 || !ours2020) {
    std::fprintf(stderr, "cairn refused the schema\n");
    return 1;
  }
  valijson::Schema theirs;
  valijson::SchemaParser parser;
  valijson::adapters::BoostJsonAdapter schema_adapter(schema07);
  parser.populateSchema(schema_adapter, theirs);
  valijson::Validator valijson_validator;
  valijson::adapters::BoostJsonAdapter good_adapter(good);
  valijson::adapters::BoostJsonAdapter bad_adapter(bad);

  std::printf("%-34s %14s %14s %8s %16s\n", "case", "cairn/s", "valijson/s", "ratio",
              "cairn 2020-12/s");
  struct row {
    const char* name;
    const boost::json::value* instance;
    const valijson::adapters::BoostJsonAdapter* adapter;
    bool expected;
    bool full;
  };
  const row rows[] = {{"valid, fast path", &good, &good_adapter, true, false},
                      {"invalid, fast path", &bad, &bad_adapter, false, false},
                      {"valid, full errors", &good, &good_adapter, true, true},
                      {"invalid, full errors", &bad, &bad_adapter, false, true}};
  for (const auto& r : rows) {
    auto measured = rates(
      seconds,
      {[&] {
         return r.full ? ours07->validate(*r.instance).valid() : ours07->is_valid(*r.instance);
       },
       [&] {
         if (!r.full)
           return valijson_validator.validate(theirs, *r.adapter, nullptr);
         valijson::ValidationResults results;
         return valijson_validator.validate(theirs, *r.adapter, &results);
       },
       [&] {
         return r.full ? ours2020->validate(*r.instance).valid() : ours2020->is_valid(*r.instance);
       }},
      r.expected);
    double ours = measured[0];
    double others = measured[1];
    double ours_uneval = measured[2];
    std::printf("%-34s %14.0f %14.0f %7.2fx %16.0f\n", r.name, ours, others, ours / others,
                ours_uneval);
  }
  return 0;
}
