// `faultfs policy check FILE...` and `faultfs policy explain FILE`.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "faultfs/policy/parse.h"

namespace faultfs::cli {

namespace {

struct PolicyArgs {
  std::vector<std::string> files;
  bool json = false;
};

int RunCheck(const PolicyArgs& a) {
  int failed = 0;
  nlohmann::json report = nlohmann::json::array();
  for (const auto& file : a.files) {
    const auto outcome = policy::ParsePolicyFile(file);
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : outcome.errors) {
      if (!a.json) std::cerr << e.ToString() << "\n";
      errors.push_back(
          {{"file", e.file}, {"line", e.line}, {"column", e.column}, {"message", e.message}});
    }
    if (!outcome.ok()) ++failed;
    if (!a.json && outcome.ok()) {
      const size_t rules = outcome.policy->rules.size();
      std::cout << file << ": ok (" << rules << (rules == 1 ? " rule" : " rules") << ")\n";
    }
    report.push_back({{"file", file},
                      {"ok", outcome.ok()},
                      {"errors", errors},
                      {"rules", outcome.ok() ? outcome.policy->rules.size() : 0}});
  }
  if (a.json) std::cout << report.dump(2) << std::endl;
  return failed == 0 ? kExitOk : kExitFailure;
}

int RunExplain(const PolicyArgs& a) {
  int status = kExitOk;
  for (const auto& file : a.files) {
    const auto outcome = policy::ParsePolicyFile(file);
    if (!outcome.ok()) {
      for (const auto& e : outcome.errors) std::cerr << e.ToString() << "\n";
      status = kExitFailure;
      continue;
    }
    if (a.files.size() > 1) std::cout << "== " << file << "\n";
    std::cout << policy::Explain(*outcome.policy);
  }
  return status;
}

}  // namespace

Runner AddPolicy(CLI::App& app) {
  auto a = std::make_shared<PolicyArgs>();
  auto which = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "policy",
      "Check or explain fault policies (TOML; the language is described in policies/README.md)");
  cmd->require_subcommand(1);
  CLI::App* check = cmd->add_subcommand(
      "check", "Validate policy files: every error is reported with file:line:column");
  check->add_option("FILE", a->files, "Policy files")->required();
  check->add_flag("--json", a->json, "Report as JSON");
  CLI::App* explain =
      cmd->add_subcommand("explain", "Say in words what each rule targets and does");
  explain->add_option("FILE", a->files, "Policy files")->required();
  check->callback([which] { *which = "check"; });
  explain->callback([which] { *which = "explain"; });
  return [a, which] { return *which == "check" ? RunCheck(*a) : RunExplain(*a); };
}

}  // namespace faultfs::cli
