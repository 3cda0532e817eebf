#include "event_log.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "faultfs/core/mutex.h"
#include "faultfs/core/private_file.h"
#include "faultfs/core/process.h"

namespace faultfs::fs {

Status EventLog::Open(const std::string& path) {
  if (path.empty()) return Status::Ok();
  auto fd = OpenPrivateFile(path, "fault event log");
  if (!fd.ok()) return fd.status();
  file_ = std::move(*fd);
  return Status::Ok();
}

void EventLog::Subscribe(std::function<bool(const std::string&)> subscriber) {
  MutexLock lock(mu_);
  subscribers_.push_back(std::move(subscriber));
}

void EventLog::Write(const FaultEvent& e) {
  nlohmann::json j;
  j["t_ns"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
  if (e.ctx != nullptr) {
    const engine::OpContext& c = *e.ctx;
    j["pid"] = c.pid;
    j["process"] = ProcessName(c.pid);
    j["op"] = policy::OpName(c.op);
    j["path"] = std::string(c.path);
    if (!c.path2.empty()) j["path2"] = std::string(c.path2);
    j["offset"] = c.offset;
    j["size"] = c.size;
  }
  j["rule"] = std::string(e.rule);
  j["action"] = std::string(e.action);
  j["result"] = e.result;
  for (const auto& [key, value] : e.details) j[key] = value;
  MutexLock lock(mu_);  // the sequence number follows the order of the lines
  j["seq"] = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::string line = j.dump();
  if (file_) {
    // One write per line, at once: a crash (or kill) of the application must not lose what it
    // was told. A failed write (full disk) loses the line, not the mount.
    const std::string with_newline = line + '\n';
    (void)!::write(file_.get(), with_newline.data(), with_newline.size());
  }
  std::erase_if(subscribers_, [&](const auto& s) { return !s(line); });
  recent_.push_back(line);
  if (recent_.size() > kRecent) recent_.pop_front();
}

std::vector<std::string> EventLog::Recent(size_t n) const {
  MutexLock lock(mu_);
  const size_t take = std::min(n, recent_.size());
  return {recent_.end() - static_cast<std::ptrdiff_t>(take), recent_.end()};
}

}  // namespace faultfs::fs
