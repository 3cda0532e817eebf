// `faultfs crash list LOG --model M` and `faultfs crash materialize LOG --model M --state ID --out
// DIR`.
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
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

int RunMaterialize(const CrashArgs& a, const LoadedLog& in, const crash::Model& model) {
  const auto e = crash::Enumerate(in.log, model, a.seed, a.max_states);
  const crash::CrashState* found = nullptr;
  for (const auto& s : e.states) found = s.id == a.state ? &s : found;
  if (found == nullptr) {
    std::cerr << "faultfs: model " << model.Name() << " has no crash state '" << a.state << "' in "
              << a.log << " (seed " << a.seed << "); see faultfs crash list\n";
    return kExitUsage;
  }
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
  list->callback([which] { *which = "list"; });
  mat->callback([which] { *which = "materialize"; });
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
    return *which == "list" ? RunList(*a, *in, *model) : RunMaterialize(*a, *in, *model);
  };
}

}  // namespace faultfs::cli
