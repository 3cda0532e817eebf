// Hand-written logs for reproducing a finding with as few ops as possible
// (FAULTFS_DIFFERENTIAL_SCRIPT=file runs the differential check on one). The starting tree comes
// first, then a line "--", then one op per line; inodes are filled in as a recording would:
//
//   file f 0\n          dir d          hardlink h f      symlink s f
//   --
//   create f.tmp        write f.tmp 0 2\n [sync|dsync]    write f 4090 x*5000
//   fsync f.tmp         fdatasync f    fsyncdir /        fsyncdir d
//   rename f.tmp f [noreplace|exchange]                  link f g      unlink f
//   mkdir d   rmdir d   mknod p   symlink s target        truncate f 3  chmod f 600
//   setxattr f user.a v      removexattr f user.a        mark two
//
// "\n" in data is a newline, "x*N" is N x's. Any op may end with "ino=N" to give the inode
// (a file that has no name left, a reused number), or "ino=@a" for the inode that the starting
// tree's `a` had (the filesystem reusing it).
#pragma once

#include <string>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

// Builds the starting tree in `scratch`, copies it to `snapshot` and returns the log.
Result<record::ReadLog> ScriptLog(const std::string& script, const std::string& scratch,
                                  const std::string& snapshot);

}  // namespace faultfs::crash
