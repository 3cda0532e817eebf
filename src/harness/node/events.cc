#include "events.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>

namespace faultfs::harness::node {

double MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Result<EventLog> EventLog::Open(const std::string& path, int node_id) {
  EventLog log;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "opening events file " + path);
  log.fd_.reset(fd);
  log.node_id_ = node_id;
  return log;
}

void EventLog::Emit(const std::string& event, const nlohmann::json& fields) {
  if (!fd_.valid()) return;
  nlohmann::json line = {{"t_ms", static_cast<int64_t>(std::llround(MonotonicMs()))},
                         {"node", node_id_},
                         {"event", event}};
  for (const auto& [key, value] : fields.items()) line[key] = value;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // The events are a record for the harness, not the node's state: a failed write is not a
  // reason to stop serving, so it is dropped.
  ssize_t n = 0;
  do {
    n = ::write(fd_.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
}

}  // namespace faultfs::harness::node
