# SPDX-License-Identifier: Apache-2.0
# `cmake --install`: the `cairn` binary (component `bin`); the libraries, the
# public headers, the CMake package and a pkg-config file (component `dev`).
# `cpack -G DEB` packages the binary (docs/sdk.md).
include(CMakePackageConfigHelpers)

# The compile-option targets every library links: exported with them (a
# consumer links them as no more than empty interfaces).
install(TARGETS cairn_warnings cairn_sanitizers EXPORT cairnTargets)
set(cairn_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cairn)
install(EXPORT cairnTargets NAMESPACE cairn:: DESTINATION ${cairn_cmake_dir} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cairnConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/cairnConfig.cmake
                              INSTALL_DESTINATION ${cairn_cmake_dir})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cairnConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cairnConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/cairnConfigVersion.cmake
        DESTINATION ${cairn_cmake_dir} COMPONENT dev)
configure_file(${CMAKE_CURRENT_LIST_DIR}/cairn.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cairn.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cairn.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The API reference (Doxygen, Debian's `doxygen`): `--target docs`; a
# warning (an undocumented public class, function or member) fails it.
find_program(DOXYGEN_EXECUTABLE doxygen)
if(DOXYGEN_EXECUTABLE)
  set(CAIRN_DOCS_OUT ${CMAKE_BINARY_DIR}/docs/api)
  set(CAIRN_DOCS_INPUT "")
  foreach(dir runtime/core runtime/net runtime/api runtime/schema runtime/json runtime/mcp
              runtime/cluster actors/demo actors/tools actors/workflow tools/cairn)
    string(APPEND CAIRN_DOCS_INPUT " ${PROJECT_SOURCE_DIR}/${dir}/include")
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${CMAKE_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(docs COMMAND ${CMAKE_COMMAND} -E make_directory ${CAIRN_DOCS_OUT}
                    COMMAND ${DOXYGEN_EXECUTABLE} ${CMAKE_BINARY_DIR}/Doxyfile
                    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
                    COMMENT "API reference: ${CAIRN_DOCS_OUT}/html/index.html")
endif()

# The Debian package: the binary, its shared libraries' packages as
# dependencies (dpkg-shlibdeps).
set(CPACK_PACKAGE_NAME cairn)
set(CPACK_PACKAGE_VENDOR "the cairn project")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "durable actor runtime: agents think, events execute")
set(CPACK_PACKAGE_CONTACT "cairn developers <cairn@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL bin)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_BIN_PACKAGE_NAME cairn)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/cairn")
include(CPack)
