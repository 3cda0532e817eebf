#include "registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "faultfs/core/private_file.h"

namespace faultfs::cli {

namespace {

namespace stdfs = std::filesystem;

std::string KeyFor(const std::string& mountpoint) {
  char key[17];
  std::snprintf(key, sizeof(key), "%016zx", std::hash<std::string>()(mountpoint));
  return key;
}

std::string RecordPath(const std::string& mountpoint) {
  return RuntimeDir() + "/" + KeyFor(mountpoint) + "/mount.json";
}

std::optional<MountRecord> ParseRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  MountRecord r;
  r.mountpoint = j.value("mountpoint", "");
  r.backing = j.value("backing", "");
  r.pid = j.value("pid", 0);
  r.log_file = j.value("log_file", "");
  r.started_at = j.value("started_at", "");
  r.seed = j.value("seed", uint64_t{0});
  r.passthrough = j.value("passthrough", std::string());
  r.control_socket = j.value("control_socket", "");
  if (r.mountpoint.empty() || r.pid <= 0) return std::nullopt;
  return r;
}

}  // namespace

std::string RuntimeDir() {
  if (const char* dir = std::getenv("FAULTFS_RUNTIME_DIR"); dir != nullptr && *dir != '\0')
    return dir;
  if (geteuid() == 0) return "/run/faultfs";
  // A user's mounts (through fusermount3): /run/faultfs is root's.
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/')
    return std::string(xdg) + "/faultfs";
  return "/tmp/faultfs-" + std::to_string(geteuid());
}

Result<std::string> RecordDirFor(const std::string& mountpoint) {
  // Listable by all (`faultfs status` of a non-root user finds the mounts), writable by the daemon
  // only; each mount's own directory (control socket, log, record) is the daemon's alone.
  FAULTFS_RETURN_IF_ERROR(EnsurePrivateDir(RuntimeDir(), 0755, "runtime directory"));
  const std::string dir = RuntimeDir() + "/" + KeyFor(mountpoint);
  FAULTFS_RETURN_IF_ERROR(EnsurePrivateDir(dir, 0700, "the mount's runtime directory"));
  return dir;
}

Status WriteRecord(const MountRecord& record) {
  auto dir = RecordDirFor(record.mountpoint);
  if (!dir.ok()) return dir.status();
  const nlohmann::json j = {{"mountpoint", record.mountpoint},
                            {"backing", record.backing},
                            {"pid", record.pid},
                            {"log_file", record.log_file},
                            {"started_at", record.started_at},
                            {"seed", record.seed},
                            {"control_socket", record.control_socket},
                            {"passthrough", record.passthrough}};
  return WritePrivateFile(RecordPath(record.mountpoint), j.dump(2) + "\n", "mount record");
}

std::optional<MountRecord> ReadRecord(const std::string& mountpoint) {
  return ParseRecord(RecordPath(mountpoint));
}

void RemoveRecord(const std::string& mountpoint) {
  std::error_code ec;
  stdfs::remove(RecordPath(mountpoint), ec);
}

void RemoveRecordDir(const std::string& mountpoint) {
  const auto mine = ParseRecord(RecordPath(mountpoint));
  if (!mine || mine->pid != getpid()) return;
  const std::string dir = RuntimeDir() + "/" + KeyFor(mountpoint);
  std::error_code ec;
  stdfs::remove(dir + "/daemon.log", ec);
  stdfs::remove(dir + "/mount.json", ec);
  stdfs::remove(dir, ec);  // only when empty: what else is there is not the daemon's to remove
}

std::vector<MountRecord> AllRecords() {
  std::vector<MountRecord> records;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(RuntimeDir(), ec)) {
    if (auto r = ParseRecord(entry.path() / "mount.json")) records.push_back(std::move(*r));
  }
  return records;
}

}  // namespace faultfs::cli
