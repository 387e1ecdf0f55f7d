# SPDX-License-Identifier: Apache-2.0
# cairn_schema vs valijson (header-only, libvalijson-dev), included from bench/CMakeLists.txt.
find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp)
if(VALIJSON_INCLUDE_DIR)
  add_executable(cairn_schema_bench ${CMAKE_CURRENT_LIST_DIR}/schema_bench.cpp)
  target_include_directories(cairn_schema_bench SYSTEM PRIVATE ${VALIJSON_INCLUDE_DIR})
  target_link_libraries(cairn_schema_bench PRIVATE cairn_schema Boost::json)
else()
  message(STATUS "valijson not found: cairn_schema_bench is not built")
endif()
