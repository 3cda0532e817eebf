// The one place that selects the libfuse API level; every libfuse include in src/fs goes through
// it.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>  // IWYU pragma: export
