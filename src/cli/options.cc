#include "options.h"

#include <limits.h>
#include <unistd.h>

#include "faultfs/core/join.h"
#include "faultfs/core/random.h"

namespace faultfs::cli {

void AddSeedOption(CLI::App& cmd, uint64_t& seed, const std::string& help) {
  seed = FreshSeed();
  cmd.add_option("--seed", seed, help);
}

CLI::Option* OneOf(CLI::Option* opt, const std::vector<std::string>& names) {
  const std::string bar = Join(names, "|");
  const std::string comma = Join(names);
  const std::string fallback = opt->get_default_str();
  opt->option_text(bar + (fallback.empty() ? "" : " (default: " + fallback + ")"));
  return opt->check(CLI::Validator(
      [names, comma](std::string& given) -> std::string {
        for (const std::string& n : names) {
          if (n == given) return "";
        }
        return "'" + given + "' is not one of: " + comma;
      },
      bar));
}

std::string SelfExe() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "faultfs";
}

double ParseSeconds(const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    const std::string unit = text.substr(used);
    if (v <= 0 || !(v < 1e7)) return -1;
    if (unit.empty() || unit == "s") return v;
    if (unit == "m") return v * 60;
    if (unit == "ms") return v / 1000;
  } catch (const std::exception&) {
  }
  return -1;
}

}  // namespace faultfs::cli
