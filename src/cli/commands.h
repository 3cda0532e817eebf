// The subcommands of `faultfs`. Each Add* registers its options on the app and returns the
// function that runs it once the command line has parsed; the function returns the exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace faultfs::cli {

using Runner = std::function<int()>;

Runner AddMount(CLI::App& app);
Runner AddUmount(CLI::App& app);
Runner AddStatus(CLI::App& app);
Runner AddPolicy(CLI::App& app);
Runner AddCtl(CLI::App& app);
Runner AddCrash(CLI::App& app);
Runner AddReplay(CLI::App& app);
Runner AddCrashtest(CLI::App& app);
Runner AddHarness(CLI::App& app);
Runner AddHarnessRun(CLI::App& parent);  // `faultfs harness run`, under AddHarness

// Exit codes shared by the commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInconclusive = 3;  // crashtest: nothing failed, something not judged

}  // namespace faultfs::cli
