// `faultfs status`: the faultfs mounts of this machine, with their daemons and logs.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "registry.h"

namespace faultfs::cli {

namespace {

struct StatusRow {
  std::string mountpoint;
  std::string backing;
  pid_t pid = 0;
  std::string log_file;
  std::string state;  // "mounted", "stale" (daemon gone), "unregistered" (no record)
  std::string control_socket;
  uint64_t seed = 0;
};

std::vector<StatusRow> CollectRows() {
  std::vector<StatusRow> rows;
  for (const auto& m : ReadMounts()) {
    if (m.fstype != "fuse.faultfs") continue;
    StatusRow row{m.mount_point, m.source, 0, "", "unregistered", "", 0};
    if (auto r = ReadRecord(m.mount_point)) {
      row.pid = r->pid;
      row.log_file = r->log_file;
      row.control_socket = r->control_socket;
      row.seed = r->seed;
      row.state = ProcessRunning(r->pid) ? "mounted" : "stale";
    }
    rows.push_back(row);
  }
  return rows;
}

int RunStatus(bool json) {
  const auto rows = CollectRows();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      out.push_back({{"mountpoint", r.mountpoint}, {"backing", r.backing}, {"pid", r.pid},
                     {"log_file", r.log_file}, {"state", r.state}, {"control_socket", r.control_socket},
                     {"seed", r.seed}});
    }
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  if (rows.empty()) std::cout << "no faultfs mounts\n";
  for (const auto& r : rows) {
    std::cout << r.mountpoint << "  " << r.state << "  backing " << r.backing;
    if (r.pid != 0) std::cout << "  pid " << r.pid;
    if (!r.log_file.empty()) std::cout << "  log " << r.log_file;
    if (!r.control_socket.empty()) std::cout << "  control " << r.control_socket;
    if (r.state == "stale") std::cout << "  (run: faultfs umount " << r.mountpoint << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

Runner AddStatus(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("status", "List faultfs mounts, their daemons and logs");
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  return [json] { return RunStatus(*json); };
}

}  // namespace faultfs::cli
