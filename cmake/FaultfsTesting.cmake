# faultfs_test(NAME SOURCES... [LIBS ...] [LABELS ...] [TIMEOUT s] [SHARDS n] [MOUNTS]
#              [BOTH_TRANSPORTS])
# The label `threads` marks tests whose threads share state: tools/test.sh runs them (and the
# daemon they mount) under ThreadSanitizer; the target threaded_tests builds just them.
# One gtest executable registered as a CTest test. MOUNTS marks tests that mount FUSE: they get
# the fuse label and share the fixture that removes any mount a crashed test left behind.
# BOTH_TRANSPORTS registers the test a second time (NAME_dev) with every mount forced onto
# /dev/fuse and kernel passthrough off, so both request transports, and files served by the
# kernel and by the daemon, pass the same tests. SHARDS n registers it as n CTest
# tests (NAME_1ofN ...), each running every n-th gtest test (gtest's own sharding: every test runs
# in exactly one shard), so that a parallel ctest spreads a long executable over its slots.
find_package(GTest REQUIRED)
function(faultfs_test name)
  cmake_parse_arguments(T "MOUNTS;BOTH_TRANSPORTS" "TIMEOUT;SHARDS" "SOURCES;LIBS;LABELS" ${ARGN})
  if(T_SHARDS AND T_BOTH_TRANSPORTS)
    message(FATAL_ERROR "faultfs_test(${name}): SHARDS and BOTH_TRANSPORTS together are not supported")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main faultfs_warnings)
  target_compile_definitions(${name} PRIVATE
    FAULTFS_BINARY="$<TARGET_FILE:faultfs>" FAULTFS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set(labels ${T_LABELS})
  if("threads" IN_LIST labels)
    add_dependencies(threaded_tests ${name})
  endif()
  if(T_MOUNTS)
    list(APPEND labels fuse)
    add_dependencies(${name} faultfs)
  endif()
  set(env "FAULTFS_TEST_ROOT=${FAULTFS_TEST_ROOT};FAULTFS_RUNTIME_DIR=${FAULTFS_TEST_ROOT}/run")
  if(T_SHARDS)
    math(EXPR last "${T_SHARDS} - 1")
    foreach(i RANGE ${last})
      math(EXPR n "${i} + 1")
      set(test ${name}_${n}of${T_SHARDS})
      add_test(NAME ${test} COMMAND ${name})
      set_tests_properties(${test} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
        ENVIRONMENT "${env};GTEST_TOTAL_SHARDS=${T_SHARDS};GTEST_SHARD_INDEX=${i}")
      if(T_MOUNTS)
        set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED stale_mounts)
      endif()
    endforeach()
    return()
  endif()
  add_test(NAME ${name} COMMAND ${name})
  if(T_MOUNTS)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED stale_mounts)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}" ENVIRONMENT "${env}")
  if(T_BOTH_TRANSPORTS)
    add_test(NAME ${name}_dev COMMAND ${name})
    set_tests_properties(${name}_dev PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels};dev"
      FIXTURES_REQUIRED stale_mounts ENVIRONMENT "${env};FAULTFS_TEST_MOUNT_ARGS=--transport dev --passthrough off")
  endif()
endfunction()
