// Crash states as JSON (crash list --json, crashtest --json) and the one command that rebuilds a
// state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faultfs/crash/state.h"
#include "faultfs/record/op.h"

namespace faultfs::cli {

// id, model, seed, crash point, what was applied, deviations with their findings, and the
// markers that precede the crash point.
nlohmann::json StateJson(const std::vector<record::Op>& ops, const crash::Model& model,
                         uint64_t seed, const crash::CrashState& state);

// One line of JSON; bytes that are not UTF-8 (file names, checker output) become U+FFFD.
std::string JsonLine(const nlohmann::json& j);

// The markers recorded before the state's crash point, in order.
std::vector<std::string> MarksBefore(const std::vector<record::Op>& ops,
                                     const crash::CrashState& state);

// "faultfs crash materialize LOG --model M --seed S --max-states N --state ID --out DIR"
std::string ReproduceCommand(const std::string& log, const crash::Model& model, uint64_t seed,
                             uint64_t max_states, const std::string& id, const std::string& out);

// Quotes `s` for sh when it needs it.
std::string ShellQuote(const std::string& s);

}  // namespace faultfs::cli
