#include "disk_worker.h"

#include <asio/post.hpp>
#include <cstdio>
#include <cstdlib>

#include "faultfs/core/mutex.h"

namespace faultfs::harness::node {

DiskWorker::DiskWorker(StorageFiles& files, asio::io_context& loop)
    : files_(files),
      loop_(loop),
      writer_([this] { WriterLoop(); }),
      reader_([this] { ReaderLoop(); }) {}

DiskWorker::~DiskWorker() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  writer_cv_.notify_all();
  reader_cv_.notify_all();
  writer_.join();
  reader_.join();
}

void DiskWorker::WriteEntries(std::vector<SlotWrite> writes, Done done) {
  {
    MutexLock lock(mu_);
    jobs_.push_back(Job{Entries{std::move(writes)}, std::move(done)});
  }
  writer_cv_.notify_one();
}

void DiskWorker::CutAfter(uint64_t keep, Done done) {
  {
    MutexLock lock(mu_);
    jobs_.push_back(Job{Cut{keep}, std::move(done)});
  }
  writer_cv_.notify_one();
}

void DiskWorker::WriteMeta(StoredMeta meta, Done done) {
  {
    MutexLock lock(mu_);
    jobs_.push_back(Job{Meta{meta}, std::move(done)});
  }
  writer_cv_.notify_one();
}

void DiskWorker::AfterWrites(Done done) {
  {
    MutexLock lock(mu_);
    jobs_.push_back(Job{Barrier{}, std::move(done)});
  }
  writer_cv_.notify_one();
}

void DiskWorker::ReadSlot(uint64_t index, ReadDone done) {
  {
    MutexLock lock(mu_);
    reads_.push_back(Read{index, std::move(done)});
  }
  reader_cv_.notify_one();
}

void DiskWorker::Fatal(const Status& status) {
  std::fprintf(stderr,
               "faultfs harness node: %s; exiting (recovery will read back what is durable)\n",
               status.ToString().c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

void DiskWorker::WriterLoop() {
  for (;;) {
    std::vector<Job> batch;
    {
      MutexLock lock(mu_);
      while (!stopping_ && jobs_.empty()) writer_cv_.wait(lock.native());
      if (stopping_) return;
      while (!jobs_.empty()) {
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
    }
    RunBatch(batch);
  }
}

void DiskWorker::RunBatch(std::vector<Job>& jobs) {
  size_t k = 0;
  while (k < jobs.size()) {
    if (auto* entries = std::get_if<Entries>(&jobs[k].what)) {
      // Merge this and the following entry writes: one fsync pair for all of them.
      std::vector<SlotWrite> merged = std::move(entries->writes);
      size_t end = k + 1;
      for (; end < jobs.size(); ++end) {
        auto* more = std::get_if<Entries>(&jobs[end].what);
        if (more == nullptr) break;
        for (auto& w : more->writes) merged.push_back(std::move(w));
      }
      if (Status s = files_.WriteEntries(merged); !s.ok()) Fatal(s);
      entry_batches_.fetch_add(1, std::memory_order_relaxed);
      for (size_t j = k; j < end; ++j) asio::post(loop_, std::move(jobs[j].done));
      k = end;
      continue;
    }
    // A barrier writes nothing: its completion is posted after those of the jobs before it.
    Status s = Status::Ok();
    if (const auto* cut = std::get_if<Cut>(&jobs[k].what)) {
      s = files_.CutAfter(cut->keep);
    } else if (const auto* meta = std::get_if<Meta>(&jobs[k].what)) {
      s = files_.WriteMeta(meta->meta);
    }
    if (!s.ok()) Fatal(s);
    asio::post(loop_, std::move(jobs[k].done));
    ++k;
  }
}

void DiskWorker::ReaderLoop() {
  for (;;) {
    Read read;
    {
      MutexLock lock(mu_);
      while (!stopping_ && reads_.empty()) reader_cv_.wait(lock.native());
      if (stopping_) return;
      read = std::move(reads_.front());
      reads_.pop_front();
    }
    auto bytes = files_.ReadSlot(read.index);
    asio::post(loop_, [done = std::move(read.done), bytes = std::move(bytes)]() mutable {
      done(std::move(bytes));
    });
  }
}

}  // namespace faultfs::harness::node
