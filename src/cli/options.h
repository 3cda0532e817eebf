// Helpers shared by several subcommands' option handling.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace faultfs::cli {

// Registers --seed on `cmd`, storing into `seed`. Without --seed, `seed` holds a fresh one drawn
// now, so that two runs without it differ.
void AddSeedOption(CLI::App& cmd, uint64_t& seed, const std::string& help);

// The path of the running faultfs binary (to start its own subprocesses).
std::string SelfExe();

// "60", "60s", "2m", "1.5s", "500ms" -> seconds; negative when it is none of these.
double ParseSeconds(const std::string& text);

}  // namespace faultfs::cli
