// crashtest, step 1: run the workload on a recording faultfs mount over a copy of the user's
// directory, and leave the record log behind.
#pragma once

#include <future>
#include <string>

#include "faultfs/core/status.h"
#include "faultfs/core/subprocess.h"
#include "faultfs/crash/head_start.h"

namespace faultfs::cli {

struct RecordRun {
  std::string dir;           // the user's directory (only read)
  std::string work;          // scratch: data/, mnt/, record.log, record.log.base, *.out
  std::string workload;      // sh -c command
  double timeout_s = 0;      // for the workload; 0 = none
  bool allow_other = false;  // the mount is shared with other users (faultfs mount --allow-other)
};

struct Recorded {
  std::string log;              // work/record.log
  SubprocessResult workload;    // how the workload ended
  std::string workload_output;  // its output file
  std::string dir;              // work/data: the recorded directory, as the workload left it
  double copy_secs = 0;         // how long copying the user's directory took
  // The snapshot's digests, read while the workload ran (head_start.h).
  std::future<Result<crash::SnapshotDigests>> digests;
};

// Copies `dir`, mounts the copy with --record, runs the workload in the mount (cwd and
// FAULTFS_DIR), unmounts (also when anything fails) and checks that the recording finished.
Result<Recorded> RecordWorkload(const RecordRun& run);

}  // namespace faultfs::cli
