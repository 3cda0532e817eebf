#include "recorder.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "faultfs/core/mutex.h"
#include "faultfs/core/tree_copy.h"

namespace faultfs::fs {

Result<std::unique_ptr<Recorder>> Recorder::Start(const std::string& log_path,
                                                  const std::string& backing,
                                                  const CopyProgress& progress) {
  const std::string base = record::SnapshotBesideLog(log_path);
  struct stat st {};
  if (lstat(log_path.c_str(), &st) == 0)
    return Status::Invalid("record log '" + log_path + "' exists; give a new path");
  if (lstat(base.c_str(), &st) == 0)
    return Status::Invalid("snapshot directory '" + base + "' exists; give a new log path");
  if (mkdir(base.c_str(), 0700) != 0)
    return Status::FromErrno(errno, "creating snapshot directory '" + base + "'");
  const auto started = std::chrono::steady_clock::now();
  record::LogHeader header;
  if (Status s = CopyTree(backing, base, &header.inodes, {}, progress); !s.ok()) {
    (void)RemoveTree(base);
    return s;
  }
  spdlog::info("recording: starting state copied to {} in {:.2f} s", base,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  const size_t slash = base.rfind('/');
  header.snapshot = slash == std::string::npos ? base : base.substr(slash + 1);  // beside the log
  header.start_unix_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  auto writer = record::LogWriter::Create(log_path, header);
  if (!writer.ok()) {
    (void)RemoveTree(base);
    return writer.status();
  }
  return std::unique_ptr<Recorder>(new Recorder(std::move(*writer), log_path, base));
}

void Recorder::Append(record::Op op) {
  const std::string data = std::move(op.data);
  AppendWrite(std::move(op), data);
}

void Recorder::AppendWrite(record::Op op, std::string_view data) {
  order_mu_.AssertHeld();  // by the caller's Mutation (Passthrough::BeginMutation), or Mark
  if (finished_) return;   // after a live crash, changes to the rolled-back directory
  op.time_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - start_)
                                         .count());
  auto seq = writer_->Append(std::move(op), data);
  if (!seq.ok()) Fail(seq.status());
}

void Recorder::Fail(Status why) {
  MutexLock lock(error_mu_);
  if (error_.ok()) {
    error_ = std::move(why);
    spdlog::error("recording failed, the record log is incomplete from here: {}",
                  error_.ToString());
  }
}

Status Recorder::Mark(std::string text) {
  record::Op op;
  op.kind = record::OpKind::kMark;
  op.data = std::move(text);
  MutexLock order(order_mu_);
  if (finished_) return Status::Invalid("the recording has finished (" + finished_why_ + ")");
  Append(std::move(op));
  MutexLock lock(error_mu_);
  return error_;
}

Status Recorder::Finish(std::string why) {
  {
    MutexLock order(order_mu_);
    if (!finished_) finished_why_ = std::move(why);
    finished_ = true;
  }
  Status synced = writer_->Sync();
  MutexLock lock(error_mu_);
  if (!error_.ok()) return error_;
  return synced;
}

Status Recorder::Discard() {
  {
    MutexLock order(order_mu_);
    finished_ = true;
  }
  writer_.reset();
  Status removed = RemoveTree(base_);
  if (unlink(log_path_.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "removing record log '" + log_path_ + "'");
  }
  return removed;
}

}  // namespace faultfs::fs
