# faultfs_test(NAME SOURCES... [LIBS ...] [LABELS ...] [TIMEOUT s] [MOUNTS] [BOTH_TRANSPORTS])
# One gtest executable registered as a CTest test. MOUNTS marks tests that mount FUSE: they get
# the fuse label and share the fixture that removes any mount a crashed test left behind.
# BOTH_TRANSPORTS registers the test a second time (NAME_dev) with every mount forced onto
# /dev/fuse, so both request transports pass the same tests.
find_package(GTest REQUIRED)
function(faultfs_test name)
  cmake_parse_arguments(T "MOUNTS;BOTH_TRANSPORTS" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
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
  set(env "FAULTFS_TEST_ROOT=${FAULTFS_TEST_ROOT};FAULTFS_RUNTIME_DIR=${FAULTFS_TEST_ROOT}/run")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}" ENVIRONMENT "${env}")
  if(T_BOTH_TRANSPORTS)
    add_test(NAME ${name}_dev COMMAND ${name})
    set_tests_properties(${name}_dev PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels};dev"
      FIXTURES_REQUIRED stale_mounts ENVIRONMENT "${env};FAULTFS_TEST_MOUNT_ARGS=--transport dev")
  endif()
endfunction()
