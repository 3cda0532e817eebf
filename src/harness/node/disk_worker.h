// Keeps the event loop responsive: every write and fsync runs on a writer thread, every slot read
// on a reader thread, and each job's completion is posted back to the loop.
//
// Group commit: the writer takes all jobs queued while it was busy and merges neighbouring entry
// writes into one WriteEntries (one fsync of the log and one of the records for all of them), so
// the rate of fsyncs, not of appends, bounds throughput. Jobs keep their order: a cut or a meta
// write between two entry writes stays between them.
//
// A failed write or fsync ends the process (exit 1, the reason on stderr): after a failed fsync
// the page cache may hold data the disk does not (Linux drops the dirty pages), so the only state
// a node can trust is what recovery reads back. The harness restarts it.
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "faultfs/core/mutex.h"
#include "storage.h"

namespace faultfs::harness::node {

class DiskWorker {
 public:
  using Done = std::function<void()>;
  using ReadDone = std::function<void(Result<std::string>)>;

  DiskWorker(StorageFiles& files, asio::io_context& loop);
  ~DiskWorker();  // stops both threads; jobs not started are dropped
  DiskWorker(const DiskWorker&) = delete;
  DiskWorker& operator=(const DiskWorker&) = delete;

  void WriteEntries(std::vector<SlotWrite> writes, Done done);
  void CutAfter(uint64_t keep, Done done);
  void WriteMeta(StoredMeta meta, Done done);
  void ReadSlot(uint64_t index, ReadDone done);
  // `done` runs on the loop once every write queued before it has completed (and its own
  // completion has run): a slot read after it sees those writes, durable.
  void AfterWrites(Done done);

  // Counters for the curious (and tests): fsync rounds of entry writes, and entries written.
  uint64_t entry_batches() const { return entry_batches_; }

 private:
  struct Entries {
    std::vector<SlotWrite> writes;
  };
  struct Cut {
    uint64_t keep = 0;
  };
  struct Meta {
    StoredMeta meta;
  };
  struct Barrier {};
  struct Job {
    std::variant<Entries, Cut, Meta, Barrier> what;
    Done done;
  };
  struct Read {
    uint64_t index = 0;
    ReadDone done;
  };

  void WriterLoop();
  void ReaderLoop();
  void RunBatch(std::vector<Job>& jobs);
  [[noreturn]] static void Fatal(const Status& status);

  StorageFiles& files_;
  asio::io_context& loop_;
  Mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable reader_cv_;
  std::deque<Job> jobs_ FAULTFS_GUARDED_BY(mu_);
  std::deque<Read> reads_ FAULTFS_GUARDED_BY(mu_);
  bool stopping_ FAULTFS_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> entry_batches_{0};
  std::thread writer_;
  std::thread reader_;
};

}  // namespace faultfs::harness::node
