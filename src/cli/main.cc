// faultfs: the command line. Parses, then runs exactly one subcommand.
#include <csignal>
#include <exception>
#include <iostream>
#include <map>

#include "commands.h"

namespace faultfs::cli {
namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "faultfs: a FUSE passthrough filesystem that makes storage misbehave on purpose.\n"
      "Mount it under a program's data directory to see what the program does when the disk\n"
      "fails, stalls, lies or loses power.",
      "faultfs"};
  app.set_version_flag("--version", std::string("faultfs ") + FAULTFS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  std::map<std::string, Runner> runners = {
      {"mount", AddMount(app)},    {"umount", AddUmount(app)},
      {"status", AddStatus(app)},  {"policy", AddPolicy(app)},
      {"ctl", AddCtl(app)},        {"crash", AddCrash(app)},
      {"replay", AddReplay(app)},  {"crashtest", AddCrashtest(app)},
      {"harness", AddHarness(app)}};
  // CLI11 would call an unknown command "a missing subcommand"; name it instead.
  if (argc > 1 && argv[1][0] != '-' && runners.count(argv[1]) == 0) {
    std::cerr
        << "faultfs: unknown command '" << argv[1]
        << "' (commands: mount, umount, status, policy, ctl, crash, crashtest, replay, harness; "
        << "see faultfs --help)\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the usage hint
    return kExitUsage;
  }
  for (const auto* sub : app.get_subcommands()) return runners.at(sub->get_name())();
  return kExitUsage;
}

}  // namespace
}  // namespace faultfs::cli

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an error value, not a reason to die
  // Errors are values here; an exception that still gets this far (out of memory, a library's
  // own) ends the command with its message, not with std::terminate's abort and core dump.
  try {
    return faultfs::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "faultfs: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "faultfs: internal error: an unknown exception\n";
  }
  return faultfs::cli::kExitFailure;
}
