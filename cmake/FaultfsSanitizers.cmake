# FAULTFS_SANITIZE=address,undefined or FAULTFS_SANITIZE=thread instruments every target.
if(FAULTFS_SANITIZE)
  string(REPLACE "," ";" _faultfs_sanitizers "${FAULTFS_SANITIZE}")
  if("thread" IN_LIST _faultfs_sanitizers AND "address" IN_LIST _faultfs_sanitizers)
    message(FATAL_ERROR "FAULTFS_SANITIZE: thread and address cannot be combined")
  endif()
  add_compile_options(-fsanitize=${FAULTFS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${FAULTFS_SANITIZE})
  if("thread" IN_LIST _faultfs_sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's headers use std::atomic_thread_fence, which GCC warns that TSan does not model; the
    # harness's own synchronization is by mutex and strand, which TSan follows.
    add_compile_options(-Wno-tsan)
  endif()
  message(STATUS "faultfs: sanitizers ${FAULTFS_SANITIZE}")
endif()
