// `faultfs ctl MOUNT COMMAND [ARG]`: talks to a live mount's control socket.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "commands.h"
#include "faultfs/control/server.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/policy/parse.h"
#include "registry.h"

namespace faultfs::cli {

namespace {

struct CtlArgs {
  std::string mountpoint;
  std::string command;
  std::string argument;
  bool json = false;
  bool follow = false;
  bool wait = false;
  size_t last = 20;  // events: how many of the past ones to show
  std::string model = "pp";
  std::vector<std::string> kill;
};

const char* kCommands =
    "status, rules, stats, add FILE, remove ID, enable ID, disable ID, load FILE, freeze, thaw, "
    "release, events, mark TEXT, crash [--model M] [--kill NAME,...], recover";

constexpr const char* kRunAsOwner =
    "; run faultfs ctl as the user who mounted it (its daemon's user), or as root";

// The users whose registry entries this user may not read: a daemon keeps its runtime directory
// (its record and control socket) to itself, mode 0700.
std::set<uid_t> UnreadableRecordOwners() {
  std::set<uid_t> owners;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(RuntimeDir(), ec)) {
    struct stat st {};
    if (stat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    const UniqueFd dir(open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir && errno == EACCES) owners.insert(st.st_uid);
  }
  return owners;
}

std::string UserName(uid_t uid) {
  const std::string name = LoginName(uid);
  return "uid " + std::to_string(uid) + (name.empty() ? "" : " (" + name + ")");
}

// Why `path` has no registry entry this user can read: a faultfs mount of another user's daemon
// is a matter of permission (it must not pass for "not a mount"), anything else is not a mount.
Status NoRecord(const std::string& path) {
  const auto mount = FindMount(path);
  if (mount && mount->fstype == "fuse.faultfs") {
    const auto owners = UnreadableRecordOwners();
    if (!owners.empty()) {
      const std::string whose =
          owners.size() == 1 ? " of " + UserName(*owners.begin()) : " of another user";
      return Status::FromErrno(EACCES, "'" + path + "' is a faultfs mount, but its control socket" +
                                           " is that" + whose + kRunAsOwner);
    }
  }
  return Status::Invalid("'" + path +
                         "' is not a faultfs mount with a control socket (see faultfs status)");
}

// "permission denied" errors say what to do about them.
std::string Explained(const Status& s) {
  if (s.code() != EACCES || s.message().find(kRunAsOwner) != std::string::npos) {
    return s.ToString();
  }
  return s.ToString() + kRunAsOwner;
}

// The registry entry of the faultfs mount `path` is on: its own when `path` is the mountpoint,
// else the nearest enclosing mount's, if `path` is on that mount's filesystem (not on another
// mounted below it) or cannot be reached because that mount's daemon is gone.
std::optional<MountRecord> EnclosingRecord(const std::string& path) {
  if (auto own = ReadRecord(path)) return own;
  struct stat inside {};
  const bool reached = stat(path.c_str(), &inside) == 0;
  if (!reached && errno != ENOTCONN && errno != ECONNABORTED) return std::nullopt;
  for (std::filesystem::path p = std::filesystem::path(path).parent_path();; p = p.parent_path()) {
    if (auto record = ReadRecord(p.string())) {
      struct stat root {};
      if (!reached || (stat(p.c_str(), &root) == 0 && root.st_dev == inside.st_dev)) return record;
      return std::nullopt;
    }
    if (p == p.root_path() || p.empty()) return std::nullopt;
  }
}

Result<MountRecord> RecordOf(const std::string& mountpoint) {
  char resolved[PATH_MAX];
  const bool found = realpath(mountpoint.c_str(), resolved) != nullptr;
  // A directory on the way that this user may not enter: a matter of permission, not "no mount".
  if (!found && errno == EACCES)
    return Status::FromErrno(EACCES, "cannot reach '" + mountpoint + "'");
  const std::string path = found
                               ? std::string(resolved)
                               : std::filesystem::absolute(mountpoint).lexically_normal().string();
  const auto record = EnclosingRecord(path);
  if (!record || record->control_socket.empty()) return NoRecord(path);
  return *record;
}

// Why the mount's daemon did not answer: when it is gone, the mount is stale, and the words for
// that ("Connection refused") say nothing of the fix.
std::string Unanswered(const MountRecord& record, const Status& s) {
  if (ProcessRunning(record.pid)) return Explained(s);
  return "the daemon of the mount at '" + record.mountpoint + "' (pid " +
         std::to_string(record.pid) + ") is gone: a stale mount; clear it with: faultfs umount " +
         record.mountpoint;
}

// The request for a command line, or why it is wrong.
Result<nlohmann::json> BuildRequest(const CtlArgs& a) {
  const std::string& c = a.command;
  const bool takes_arg =
      c == "add" || c == "load" || c == "remove" || c == "enable" || c == "disable" || c == "mark";
  if (takes_arg && a.argument.empty()) return Status::Invalid("'" + c + "' needs an argument");
  if (!takes_arg && !a.argument.empty()) return Status::Invalid("'" + c + "' takes no argument");
  if (c == "add" || c == "load") {
    // The same checks as every policy file: a regular file of at most 1 MiB (a FIFO or
    // /dev/urandom given here would hang or flood this command and then the daemon).
    auto text = policy::ReadPolicyText(a.argument);
    if (!text.ok()) return Status::Invalid(a.argument + ": " + text.status().ToString());
    // Checked here first, so that its errors name the file, line and column, one per line; the
    // daemon checks again (anyone with the socket may send it anything).
    const auto outcome = policy::ParsePolicy(*text, a.argument);
    if (!outcome.ok()) {
      std::string all = "the policy has errors; nothing was sent to the mount";
      for (const auto& e : outcome.errors) all += "\n" + e.ToString();
      return Status::Invalid(all);
    }
    return nlohmann::json{{"cmd", c}, {"policy", *text}};
  }
  if (c == "remove" || c == "enable" || c == "disable")
    return nlohmann::json{{"cmd", c}, {"id", a.argument}};
  if (c == "events") return nlohmann::json{{"cmd", c}, {"follow", a.follow}, {"last", a.last}};
  if (c == "mark") return nlohmann::json{{"cmd", c}, {"text", a.argument}};
  if (c == "crash") return nlohmann::json{{"cmd", c}, {"model", a.model}, {"kill", a.kill}};
  if (!a.kill.empty() || a.model != "pp")
    return Status::Invalid("--model and --kill are for 'crash'");
  for (const char* simple : {"status", "rules", "stats", "freeze", "thaw", "release", "recover"}) {
    if (c == simple) return nlohmann::json{{"cmd", c}};
  }
  return Status::Invalid(std::string("unknown command '") + c + "' (commands: " + kCommands + ")");
}

// One "key: value" line per field; an object's fields indented below its key, a list of plain
// values on one line (no raw JSON for a person to decode).
void PrintFields(const nlohmann::json& object, const std::string& indent) {
  for (const auto& [key, value] : object.items()) {
    if (value.is_null()) continue;  // e.g. no capacity model
    if (value.is_object()) {
      std::cout << indent << key << ":\n";
      PrintFields(value, indent + "  ");
      continue;
    }
    std::string text;
    if (value.is_array()) {
      for (const auto& item : value)
        text +=
            (text.empty() ? "" : ", ") + (item.is_string() ? item.get<std::string>() : item.dump());
      if (text.empty()) text = "none";
    } else {
      text = value.is_string() ? value.get<std::string>() : value.dump();
    }
    std::cout << indent << key << ": " << text << "\n";
  }
}

void PrintHuman(const std::string& command, const nlohmann::json& reply) {
  if (command == "events" && reply.contains("recent")) {  // one JSON line per event, as --follow
    for (const auto& event : reply["recent"]) std::cout << event.dump() << "\n";
    const uint64_t all = reply.value("events", uint64_t{0});
    std::cout << "events: " << all << " in all";
    if (all > reply["recent"].size())
      std::cout << ", the last " << reply["recent"].size() << " shown";
    std::cout << "\n";
    return;
  }
  if (reply.contains("rules") && reply["rules"].is_array()) {
    if (reply["rules"].empty()) std::cout << "no rules\n";
    if (!reply["rules"].empty())
      std::cout << "rule                      action      evaluated    matched      fired\n";
    for (const auto& r : reply["rules"]) {
      std::printf("%-25s %-10s %10llu %10llu %10llu%s\n", r["id"].get<std::string>().c_str(),
                  r["action"].get<std::string>().c_str(), r["evaluated"].get<unsigned long long>(),
                  r["matched"].get<unsigned long long>(), r["fired"].get<unsigned long long>(),
                  r["enabled"].get<bool>() ? "" : "  (disabled)");
    }
    if (reply.contains("requests"))
      std::cout << "requests: " << reply["requests"].get<std::string>() << "\n";
    return;
  }
  nlohmann::json rest = reply;
  rest.erase("ok");
  PrintFields(rest, "");
}

int RunCtl(const CtlArgs& a) {
  auto request = BuildRequest(a);
  if (!request.ok()) {
    std::cerr << "faultfs ctl: " << request.status().ToString() << "\n";
    return kExitUsage;
  }
  auto record = RecordOf(a.mountpoint);
  if (!record.ok()) {
    std::cerr << "faultfs ctl: " << Explained(record.status()) << "\n";
    return kExitFailure;
  }
  const std::string& socket = record->control_socket;
  auto print_event = [&](const nlohmann::json& event) {
    std::cout << event.dump() << std::endl;
    return true;
  };
  auto reply = control::Request(socket, *request, a.follow ? std::function(print_event) : nullptr);
  if (!reply.ok()) {
    std::cerr << "faultfs ctl: " << Unanswered(*record, reply.status()) << "\n";
    return kExitFailure;
  }
  if (!reply->value("ok", false)) {
    // What the mount refused from a policy file (a rule id it already has...) names the file.
    const bool from_file = a.command == "add" || a.command == "load";
    std::cerr << "faultfs ctl: " << (from_file ? a.argument + ": " : "")
              << reply->value("error", std::string("failed")) << "\n";
    return kExitFailure;
  }
  // --wait: done when nothing is stalled (release) and the mount is no longer frozen (thaw).
  if (a.wait && (a.command == "release" || a.command == "thaw")) {
    for (int i = 0; i < 3000; ++i) {
      auto status = control::Request(socket, {{"cmd", "status"}});
      if (status.ok() && status->value("stalled", 1) == 0 && !status->value("frozen", true)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!a.follow) {
    if (a.json) {
      std::cout << reply->dump(2) << std::endl;
    } else if (a.command != "mark") {  // a workload marks as it runs: its output is its own
      PrintHuman(a.command, *reply);
    }
  }
  return kExitOk;
}

}  // namespace

Runner AddCtl(CLI::App& app) {
  auto a = std::make_shared<CtlArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ctl", std::string("Control a live mount through its control socket. Commands: ") +
                 kCommands + ". Changes take effect before the command returns.");
  cmd->add_option("MOUNT", a->mountpoint,
                  "The mounted directory, or any directory or file inside it")
      ->required();
  cmd->add_option("COMMAND", a->command, kCommands)->required();
  cmd->add_option(
      "ARG", a->argument,
      "Rule id; policy file for add and load; marker text for mark (a recording mount)");
  cmd->add_flag("--json", a->json, "Print the reply as JSON");
  cmd->add_flag("-f,--follow", a->follow, "events: keep printing new events as they happen");
  cmd->add_option("--last", a->last, "events: how many of the latest past events to show")
      ->check(CLI::Range(size_t{0}, control::kMaxRecentEvents))
      ->capture_default_str();
  cmd->add_flag("--wait", a->wait, "thaw, release: wait until the held requests have run");
  cmd->add_option("--model", a->model,
                  "crash: the persistence model the rolled-back state is chosen under")
      ->capture_default_str();
  cmd->add_option("--kill", a->kill,
                  "crash: kill (SIGKILL) the processes with these command names (default: none)")
      ->delimiter(',');
  return [a] { return RunCtl(*a); };
}

}  // namespace faultfs::cli
