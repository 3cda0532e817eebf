# faultfs_test(NAME SOURCES... [LIBS ...] [LABELS ...] [TIMEOUT s] [MOUNTS])
# One gtest executable registered as one CTest test. MOUNTS marks tests that mount FUSE: they get
# the fuse label, run serially with respect to each other's resource lock, and share the fixture
# that removes any mount a crashed test left behind.
find_package(GTest REQUIRED)
function(faultfs_test name)
  cmake_parse_arguments(T "MOUNTS" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main faultfs_warnings)
  target_compile_definitions(${name} PRIVATE
    FAULTFS_BINARY="$<TARGET_FILE:faultfs>" FAULTFS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set(labels ${T_LABELS})
  if(T_MOUNTS)
    list(APPEND labels fuse)
    add_dependencies(${name} faultfs)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED stale_mounts)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
    ENVIRONMENT "FAULTFS_TEST_ROOT=${FAULTFS_TEST_ROOT};FAULTFS_RUNTIME_DIR=${FAULTFS_TEST_ROOT}/run")
endfunction()
