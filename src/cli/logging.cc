#include "logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "faultfs/core/join.h"
#include "faultfs/core/private_file.h"

namespace faultfs::cli {

namespace {

// A log file the daemon opened itself (OpenPrivateFile: 0600, never through a symlink), written
// one whole line per write(2) so lines from the daemon's stdout and stderr, which share the file,
// never interleave inside a line.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(UniqueFd fd) : fd_(std::move(fd)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_.get(), p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not stop the daemon; the line is lost
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}  // every line is written at once

 private:
  UniqueFd fd_;
};

}  // namespace

Status ConfigureLogging(const std::string& level, const std::string& file) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only "off" itself may mean off.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::Invalid("unknown log level '" + level + "' (expected " + Join(kLogLevels) + ")");
  }
  spdlog::sink_ptr sink;
  if (file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    auto fd = OpenPrivateFile(file, "log file");
    if (!fd.ok()) return fd.status();
    sink = std::make_shared<FdSink>(std::move(*fd));
  }
  auto logger = std::make_shared<spdlog::logger>("faultfs", std::move(sink));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%P] %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace faultfs::cli
