// Recorder: the recording side of a mount (`faultfs mount --record LOG`). Before the mount starts
// it copies the backing directory to LOG.base (the starting state); then it appends every
// mutation and persistence point the mount applies to the record log, in the order they reached
// the backing directory, and the workload's markers in between.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/record/log.h"

namespace faultfs::fs {

class Recorder {
 public:
  // Snapshots `backing` into `log_path`.base (telling `progress` as it goes) and creates the log
  // (0600); both must not exist yet.
  static Result<std::unique_ptr<Recorder>> Start(const std::string& log_path,
                                                 const std::string& backing,
                                                 const CopyProgress& progress = {});

  // Held by a mutation from before it changes the backing directory until its record is
  // appended, so that the log's order is the order of the changes. (Handed to the op's
  // Passthrough::Mutation, so the thread-safety analysis cannot follow it: AppendWrite asserts
  // it instead.)
  std::unique_lock<std::mutex> Order() { return std::unique_lock(order_mu_.native()); }
  // Appends `op` (time stamped here), unless the recording has finished; called with Order()
  // held. A failure stops the recording: it is logged once, and Finish() reports it.
  void Append(record::Op op);
  // Appends a write whose data is `data` (op.data is ignored), without copying it first.
  void AppendWrite(record::Op op, std::string_view data);
  // A change that reached the backing directory but could not be recorded: the recording is
  // incomplete from here. Logged once; Finish() reports it.
  void Fail(Status why);
  // A marker from the workload, in order with the ops; an error once the recording is finished.
  Status Mark(std::string text);
  // Writes out and syncs the log; the first error of the recording, if any. Nothing is recorded
  // from then on, and markers are refused saying `why` (the mount is stopping, or a live crash
  // ended the recording). Finishing again only syncs again.
  Status Finish(std::string why = "the mount is stopping");
  bool finished() {
    MutexLock order(order_mu_);
    return finished_;
  }
  // Removes the log and its snapshot: the mount they were for never started.
  Status Discard();
  uint64_t recorded() const { return writer_ != nullptr ? writer_->appended() : 0; }
  const std::string& log_path() const { return log_path_; }

 private:
  Recorder(std::unique_ptr<record::LogWriter> writer, std::string log_path, std::string base)
      : writer_(std::move(writer)), log_path_(std::move(log_path)), base_(std::move(base)) {}
  std::unique_ptr<record::LogWriter> writer_;
  const std::string log_path_;
  const std::string base_;  // the snapshot directory
  bool finished_ FAULTFS_GUARDED_BY(order_mu_) = false;
  std::string finished_why_ FAULTFS_GUARDED_BY(order_mu_);
  Mutex order_mu_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  Mutex error_mu_;
  Status error_;  // the first failure; guarded by error_mu_
};

}  // namespace faultfs::fs
