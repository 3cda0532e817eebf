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
  std::string passthrough;
};

std::vector<StatusRow> CollectRows() {
  std::vector<StatusRow> rows;
  for (const auto& m : ReadMounts()) {
    if (m.fstype != "fuse.faultfs") continue;
    StatusRow row{m.mount_point, m.source, 0, "", "unregistered", "", 0, ""};
    if (auto r = ReadRecord(m.mount_point)) {
      row.pid = r->pid;
      row.log_file = r->log_file;
      row.control_socket = r->control_socket;
      row.seed = r->seed;
      row.passthrough = r->passthrough;
      row.state = ProcessRunning(r->pid) ? "mounted" : "stale";
    }
    rows.push_back(row);
  }
  return rows;
}

// What a state means for the user, and what to do about it.
std::string Meaning(const StatusRow& r) {
  if (r.state == "mounted") return "its daemon (pid " + std::to_string(r.pid) + ") serves it";
  if (r.state == "stale") {
    return "its daemon (pid " + std::to_string(r.pid) +
           ") is gone: every access fails; clear it with: faultfs umount " + r.mountpoint;
  }
  return "no record of it in " + RuntimeDir() +
         " (mounted with another FAULTFS_RUNTIME_DIR, or its record was removed): faultfs ctl "
         "cannot reach it; faultfs umount " +
         r.mountpoint + " takes it down";
}

void PrintRow(const StatusRow& r) {
  std::cout << r.mountpoint << ": " << r.state << ", " << Meaning(r) << "\n";
  std::cout << "  backing  " << r.backing << "\n";
  if (!r.log_file.empty()) std::cout << "  log      " << r.log_file << "\n";
  if (!r.control_socket.empty()) std::cout << "  control  " << r.control_socket << "\n";
  if (r.state != "unregistered") std::cout << "  seed     " << r.seed << "\n";
  if (!r.passthrough.empty()) std::cout << "  passthrough " << r.passthrough << "\n";
}

int RunStatus(bool json) {
  const auto rows = CollectRows();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      out.push_back({{"mountpoint", r.mountpoint},
                     {"backing", r.backing},
                     {"pid", r.pid},
                     {"log_file", r.log_file},
                     {"state", r.state},
                     {"control_socket", r.control_socket},
                     {"seed", r.seed},
                     {"passthrough", r.passthrough}});
    }
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  if (rows.empty()) std::cout << "no faultfs mounts\n";
  for (const auto& r : rows) PrintRow(r);
  return kExitOk;
}

}  // namespace

Runner AddStatus(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "status",
      "List faultfs mounts, their daemons and logs. A mount is 'mounted' (its daemon serves it),\n"
      "'stale' (its daemon is gone; faultfs umount clears it) or 'unregistered' (no record in the\n"
      "runtime directory, e.g. another FAULTFS_RUNTIME_DIR: ctl cannot reach it)");
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  return [json] { return RunStatus(*json); };
}

}  // namespace faultfs::cli
