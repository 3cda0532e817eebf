# Warning flags shared by every faultfs target (not by third-party code).
add_library(faultfs_warnings INTERFACE)
target_compile_options(faultfs_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wconversion -Wsign-conversion -Wdouble-promotion
  -Wformat=2 -Wimplicit-fallthrough)
if(FAULTFS_WERROR)
  target_compile_options(faultfs_warnings INTERFACE -Werror)
endif()
