# One shape for every library, service and test in ProxyOS.
#
#   proxyos_library(<name> SOURCES ... DEPS ...)
#       -> target proxyos_<name>, alias proxyos::<name>; include root is the repo
#          root, so code includes "shared/<name>/<file>.h".
#   proxyos_service(<name> BINARY <exe> SOURCES ... DEPS ...)
#       -> <name>_lib (everything but main.cpp, linked by tests) and the executable.
#   proxyos_test(<name> SOURCES ... DEPS ... [LABELS unit|integration|e2e] [TIMEOUT <s>])
#       -> a GoogleTest executable registered with CTest (TIMEOUT: per test case,
#          CTest's default when not given).

set(PROXYOS_WARNINGS -Wall -Wextra -Werror -Wno-deprecated-declarations)
# Boost 1.74's asio needs <utility> before it under C++20 (std::exchange).
set(PROXYOS_COMPILE_OPTIONS ${PROXYOS_WARNINGS} -include utility)

function(proxyos_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(proxyos_${name} STATIC ${ARG_SOURCES})
  add_library(proxyos::${name} ALIAS proxyos_${name})
  target_include_directories(proxyos_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(proxyos_${name} PRIVATE ${PROXYOS_COMPILE_OPTIONS})
  target_link_libraries(proxyos_${name} PUBLIC ${ARG_DEPS})
endfunction()

function(proxyos_service name)
  cmake_parse_arguments(ARG "" "BINARY" "SOURCES;DEPS" ${ARGN})
  add_library(${name}_lib STATIC ${ARG_SOURCES})
  target_include_directories(${name}_lib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
  target_compile_options(${name}_lib PRIVATE ${PROXYOS_COMPILE_OPTIONS})
  target_link_libraries(${name}_lib PUBLIC ${ARG_DEPS})
  add_executable(${ARG_BINARY} main.cpp)
  target_compile_options(${ARG_BINARY} PRIVATE ${PROXYOS_COMPILE_OPTIONS})
  target_link_libraries(${ARG_BINARY} PRIVATE ${name}_lib)
  set_target_properties(${ARG_BINARY} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

function(proxyos_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${PROXYOS_COMPILE_OPTIONS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  # Integration tests find the service binaries next to themselves via this define.
  target_compile_definitions(${name} PRIVATE PROXYOS_BIN_DIR="${PROJECT_BINARY_DIR}/bin")
  if(ARG_TIMEOUT)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
