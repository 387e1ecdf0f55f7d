# SPDX-License-Identifier: Apache-2.0
# The schema tests, included from tests/CMakeLists.txt (Catch2 and cairn_warnings exist there).
set(CAIRN_JSON_SCHEMA_TEST_SUITE "${PROJECT_SOURCE_DIR}/../shared/testdata/json-schema-test-suite"
    CACHE PATH "Checkout of the official JSON-Schema-Test-Suite (read at test time, never copied)")

set(cairn_schema_test_sources
    ${CMAKE_CURRENT_LIST_DIR}/unit/schema/validator_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/unit/schema/compile_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/unit/schema/json_compare_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/unit/schema/ecma_regex_test.cpp)
if(EXISTS "${CAIRN_JSON_SCHEMA_TEST_SUITE}/tests/draft2020-12")
  list(APPEND cairn_schema_test_sources ${CMAKE_CURRENT_LIST_DIR}/unit/schema/suite_test.cpp)
else()
  message(STATUS "JSON-Schema-Test-Suite not found at ${CAIRN_JSON_SCHEMA_TEST_SUITE}: "
                 "the official suite tests are not registered (set CAIRN_JSON_SCHEMA_TEST_SUITE)")
endif()

add_executable(cairn_schema_tests ${cairn_schema_test_sources})
target_link_libraries(cairn_schema_tests PRIVATE cairn_schema Catch2::Catch2WithMain cairn_warnings)
# The unit tests of internal pieces (regex translation, number comparison) include src/internal.
target_include_directories(cairn_schema_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../runtime/schema/src)
target_compile_definitions(cairn_schema_tests PRIVATE
                           CAIRN_JSON_SCHEMA_TEST_SUITE="${CAIRN_JSON_SCHEMA_TEST_SUITE}")
catch_discover_tests(cairn_schema_tests PROPERTIES TIMEOUT 600)

# libFuzzer over compile + validate (configure with -DCAIRN_FUZZ=ON and clang).
if(CAIRN_FUZZ)
  add_executable(schema_fuzz ${CMAKE_CURRENT_LIST_DIR}/fuzz/schema_fuzz.cpp)
  target_link_libraries(schema_fuzz PRIVATE cairn_schema cairn_warnings)
  target_link_options(schema_fuzz PRIVATE -fsanitize=fuzzer)
endif()
