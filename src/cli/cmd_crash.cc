// `faultfs crash list LOG --model M`, `faultfs crash materialize LOG --model M --state ID --out
// DIR` and `faultfs crash diff LOG --model M --state ID`.
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "crash_diff.h"
#include "crash_json.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state.h"
#include "record_log.h"

namespace faultfs::cli {

namespace {

struct CrashArgs {
  std::string log;
  std::string model = "pp";
  uint64_t seed = 1;
  uint64_t max_states = 100000;
  std::string state;
  std::string out;
  bool json = false;
};

int RunList(const CrashArgs& a, const LoadedLog& in, const crash::Model& model) {
  const auto e = crash::Enumerate(in.log, model, a.seed, a.max_states);
  if (a.json) {
    for (const auto& s : e.states)
      std::cout << JsonLine(StateJson(in.log.ops, model, a.seed, s)) << "\n";
    return kExitOk;
  }
  std::cout << a.log << ": " << in.log.ops.size() << " ops; model " << model.Name() << " defines "
            << e.total << " crash states"
            << (e.sampled ? "; " + std::to_string(e.states.size()) + " sampled with seed " +
                                std::to_string(a.seed)
                          : "")
            << "\n";
  for (const auto& s : e.states) std::cout << "  " << s.id << "\t" << s.summary << "\n";
  return kExitOk;
}

// State --state of the enumeration, or nullptr after saying there is none.
const crash::CrashState* FindState(const CrashArgs& a, const crash::Enumeration& e,
                                   const crash::Model& model) {
  for (const auto& s : e.states)
    if (s.id == a.state) return &s;
  std::cerr << "faultfs: model " << model.Name() << " has no crash state '" << a.state << "' in "
            << a.log << " (seed " << a.seed << "); see faultfs crash list\n";
  return nullptr;
}

int RunMaterialize(const CrashArgs& a, const LoadedLog& in, const crash::Model& model) {
  const auto e = crash::Enumerate(in.log, model, a.seed, a.max_states);
  const crash::CrashState* found = FindState(a, e, model);
  if (found == nullptr) return kExitUsage;
  if (Status s = MakeEmptyDir(a.out); !s.ok()) {
    std::cerr << "faultfs: --out: " << s.ToString() << "\n";
    return kExitFailure;
  }
  if (Status s = crash::Materialize(in.snapshot, in.log, *found, a.seed, a.out); !s.ok()) {
    std::cerr << "faultfs: materializing state " << a.state << ": " << s.ToString() << "\n";
    return kExitFailure;
  }
  std::cout << "state " << found->id << " (" << found->summary << ") is in " << a.out << "\n";
  return kExitOk;
}

int RunDiff(const CrashArgs& a, const LoadedLog& in, const crash::Model& model) {
  const auto e = crash::Enumerate(in.log, model, a.seed, a.max_states);
  const crash::CrashState* found = FindState(a, e, model);
  if (found == nullptr) return kExitUsage;
  return RunCrashDiff({a.log, model, a.seed, a.json}, in, *found);
}

}  // namespace

Runner AddCrash(CLI::App& app) {
  auto a = std::make_shared<CrashArgs>();
  auto which = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("crash", "Enumerate and rebuild the crash states of a recorded workload");
  cmd->require_subcommand(1);
  auto common = [a](CLI::App* sub) {
    sub->add_option("LOG", a->log, "Record log (from faultfs mount --record)")->required();
    sub->add_option("--model", a->model, "Persistence model:\n" + crash::ModelHelp())
        ->capture_default_str();
    sub->add_option("--seed", a->seed, "Seed for sampling and garbage")->capture_default_str();
    sub->add_option("--max-states", a->max_states,
                    "Sample this many states when the model defines more")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  };
  CLI::App* list =
      cmd->add_subcommand("list", "What would be enumerated: each state's id and what it omits");
  common(list);
  list->add_flag("--json", a->json, "One JSON object per state");
  CLI::App* mat = cmd->add_subcommand("materialize", "Rebuild one crash state, byte for byte");
  common(mat);
  mat->add_option("--state", a->state, "State id (from crash list)")->required();
  mat->add_option("--out", a->out, "Directory to build it in (created; must be empty)")->required();
  CLI::App* diff = cmd->add_subcommand(
      "diff",
      "What a crash state lacks: the names, metadata and byte ranges where it differs from the "
      "full state (every op before its crash point persisted, as under the prefix model), "
      "then the ops it loses");
  common(diff);
  diff->add_option("--state", a->state, "State id (from crash list)")->required();
  diff->add_flag("--json", a->json,
                 "One JSON object: the state as crash list --json gives it, with its differences");
  diff->footer(
      "Each line: kind (missing, extra, type, content, mode, owner, xattrs, symlink, device,\n"
      "links), path, then the full state's value vs the crash state's. Exits 0 whether or not\n"
      "there are differences, 2 for bad usage or an unknown state, 1 on errors.\n");
  list->callback([which] { *which = "list"; });
  mat->callback([which] { *which = "materialize"; });
  diff->callback([which] { *which = "diff"; });
  return [a, which] {
    auto model = crash::ParseModel(a->model);
    if (!model.ok()) {
      std::cerr << "faultfs: --model: " << model.status().message() << "\n";
      return kExitUsage;
    }
    auto in = LoadRecordLog(a->log);
    if (!in.ok()) {
      std::cerr << "faultfs: " << in.status().ToString() << "\n";
      return kExitFailure;
    }
    if (*which == "list") return RunList(*a, *in, *model);
    if (*which == "diff") return RunDiff(*a, *in, *model);
    return RunMaterialize(*a, *in, *model);
  };
}

}  // namespace faultfs::cli
