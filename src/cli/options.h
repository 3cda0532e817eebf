// Helpers shared by several subcommands' option handling.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace faultfs::cli {

// Registers --seed on `cmd`, storing into `seed`. Without --seed, `seed` holds a fresh one drawn
// now, so that two runs without it differ.
void AddSeedOption(CLI::App& cmd, uint64_t& seed, const std::string& help);

// Makes `opt` (already given its default) accept exactly one of `names`: the help shows
// "a|b|c (default: b)", a wrong value "--opt: 'x' is not one of: a, b, c".
CLI::Option* OneOf(CLI::Option* opt, const std::vector<std::string>& names);

// An option whose words stand for values of `target` (an enum, a bool), shown and checked as
// OneOf(); `target`'s value before parsing is the default.
template <typename T>
CLI::Option* AddChoice(CLI::App& cmd, const std::string& name, T& target,
                       const std::vector<std::pair<std::string, T>>& choices,
                       const std::string& help) {
  std::vector<std::string> names;
  std::string current;
  for (const auto& [word, value] : choices) {
    names.push_back(word);
    if (value == target) current = word;
  }
  CLI::Option* opt = cmd.add_option_function<std::string>(
      name,
      [&target, choices](const std::string& given) {
        for (const auto& [word, value] : choices) {
          if (word == given) target = value;
        }
      },
      help);
  opt->default_str(current);
  return OneOf(opt, names);
}

// The path of the running faultfs binary (to start its own subprocesses).
std::string SelfExe();

// "60", "60s", "2m", "1.5s", "500ms" -> seconds; negative when it is none of these.
double ParseSeconds(const std::string& text);

}  // namespace faultfs::cli
