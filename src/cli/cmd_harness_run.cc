// `faultfs harness run`: the whole harness (docs/harness.md, "The run"). This file parses its
// options; the run itself is the harness library's.
#include <iostream>
#include <memory>

#include "commands.h"
#include "faultfs/harness/run.h"
#include "options.h"

namespace faultfs::cli {
namespace {}  // namespace

Runner AddHarnessRun(CLI::App& parent) {
  auto o = std::make_shared<harness::RunOptions>();
  auto duration = std::make_shared<std::string>("60s");
  CLI::App* cmd = parent.add_subcommand(
      "run",
      "Runs the replicated log: N node processes, each on its own faultfs mount, every\n"
      "node-to-node link through a fault-injecting proxy, clients that append and read, and\n"
      "nemeses on a schedule drawn from the seed (disk faults, kills, power cuts, partitions,\n"
      "one-way links, latency, drops). Then checks the clients' history and every node's log.\n"
      "Exit: 0 correct, 1 unsafe (loss, corruption, divergence, double apply), 3 unavailable,\n"
      "2 bad usage, 4 the run could not start, 128+N interrupted by signal N.");
  cmd->add_option("--nodes", o->nodes, "Nodes")->capture_default_str()->check(CLI::Range(1, 9));
  cmd->add_option("--duration", *duration, "How long the clients run (60s, 2m)")
      ->capture_default_str();
  AddSeedOption(*cmd, o->seed, "Seed of everything drawn (default: a fresh one, printed)");
  cmd->add_option("--clients", o->clients, "Client processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--nemesis", o->nemesis,
                  "all, none, or a comma list of: disk, kill, power, net, or single kinds\n"
                  "(fsync-error, corrupt, corrupt-leader, lost-write, disk-latency, disk-full, "
                  "kill, kill-leader,\n"
                  "power-cut, power-cut-all, partition, one-way, isolate-leader, leader-deaf,\n"
                  "net-latency, net-drop)")
      ->capture_default_str();
  OneOf(cmd->add_option("--recovery", o->recovery, "protocol, or the naive baseline truncate")
            ->capture_default_str(),
        {"protocol", "truncate"});
  OneOf(cmd->add_option("--repair", o->repair, "verified, or the naive baseline newest")
            ->capture_default_str(),
        {"verified", "newest"});
  cmd->add_option("--election-timeout-ms", o->election_timeout_ms, "The nodes' election timeout T")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "The leader's heartbeat interval")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  cmd->add_option("--link-toxics", o->link_toxics,
                  "Toxics on every link for the whole run, a JSON list in Toxiproxy's shape, e.g.\n"
                  "'[{\"name\":\"slow\",\"type\":\"latency\",\"attributes\":{\"latency\":2000}}]'");
  cmd->add_flag(
      "--no-faultfs", [o](int64_t) { o->use_faultfs = false; },
      "Data directories on the plain filesystem (to measure what faultfs costs)");
  cmd->add_option("--json", o->json, "Write the report as JSON to this file");
  cmd->add_option("--history", o->history, "Write the client history in Jepsen's EDN to this file");
  cmd->add_option("--report", o->report, "Write the HTML timeline to this file");
  cmd->add_option("--work", o->work, "Work directory (default: a new one in $TMPDIR)");
  cmd->add_flag("--keep", o->keep, "Keep the work directory even when the run was correct");
  return [o, duration] {
    o->duration_s = ParseSeconds(*duration);
    if (o->duration_s <= 0) {
      std::cerr << "faultfs harness run: --duration '" << *duration
                << "' is not a duration (60s, 2m)\n";
      return kExitUsage;
    }
    if (o->heartbeat_ms >= o->election_timeout_ms) {
      std::cerr << "faultfs harness run: --heartbeat-ms must be below --election-timeout-ms\n";
      return kExitUsage;
    }
    o->faultfs = SelfExe();
    std::cerr << "faultfs harness run: seed " << o->seed << "\n";
    return harness::RunHarness(*o);
  };
}

}  // namespace faultfs::cli
