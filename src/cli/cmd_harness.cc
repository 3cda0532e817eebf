// `faultfs harness`: the replicated-log harness (docs/harness.md). Each subcommand registers
// itself on the `harness` parent with an Add* function and returns its runner; AddHarness runs
// the one that was chosen.
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "faultfs/harness/node.h"
#include "options.h"

namespace faultfs::cli {
namespace {

// "J=HOST:PORT" -> (J, "HOST:PORT").
bool ParsePeer(const std::string& text, std::map<int, std::string>& peers) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  try {
    size_t used = 0;
    const int id = std::stoi(text.substr(0, eq), &used);
    if (used != eq || id < 0 || peers.count(id) != 0) return false;
    peers[id] = text.substr(eq + 1);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

Runner AddHarnessNode(CLI::App& parent) {
  auto o = std::make_shared<harness::NodeOptions>();
  auto peers = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = parent.add_subcommand(
      "node",
      "One node of the replicated log, a process of its own. It recovers DIR (protocol-aware\n"
      "recovery: a damaged entry with a persistence record is kept and repaired from a peer),\n"
      "listens on 127.0.0.1 (peer port, client port), prints 'ready' and serves until SIGTERM\n"
      "or SIGINT. It sends to node J only at the address given by --peer J=ADDR, and only reads\n"
      "from the connections other nodes open to it.\n"
      "Exit: 0 after a signal, 1 when it cannot start or its storage fails, 2 bad usage.");
  cmd->add_option("--id", o->id, "This node's id")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--data", o->data, "Data directory (log, persisted, meta.0, meta.1)")->required();
  cmd->add_option("--peer-port", o->peer_port, "Port for other nodes' connections")->required();
  cmd->add_option("--client-port", o->client_port, "Port for clients' connections")->required();
  cmd->add_option("--peer", *peers,
                  "J=127.0.0.1:PORT: where to send to node J (one per other node)");
  cmd->add_option("--election-timeout-ms", o->election_timeout_ms,
                  "T: election timeouts are drawn from [T, 2T]")
      ->capture_default_str();
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "Leader heartbeat interval")
      ->capture_default_str();
  cmd->add_option("--queue", o->queue, "Requests that may wait at once; more are answered busy")
      ->capture_default_str();
  OneOf(
      cmd->add_option("--recovery", o->recovery,
                      "protocol: keep and repair corrupted entries; truncate: the naive baseline,\n"
                      "discard everything from the first bad slot")
          ->capture_default_str(),
      {"protocol", "truncate"});
  OneOf(
      cmd->add_option("--repair", o->repair,
                      "verified: read repair with the copy that matches its persistence record;\n"
                      "newest: the naive baseline, the copy with the highest term, verified or not")
          ->capture_default_str(),
      {"verified", "newest"});
  cmd->add_option("--events", o->events, "Write one JSON line per event to this file");
  cmd->add_option("--cluster", o->cluster,
                  "The run's cluster id: messages and requests naming another one are dropped");
  cmd->add_flag(
      "--no-scrub", [o](int64_t) { o->scrub = false; },
      "Do not read the log back in the background (damage is then found only by reads\n"
      "and restarts)");
  AddSeedOption(*cmd, o->seed, "Seed of the election timeouts (default: a fresh one)");
  return [o, peers] {
    for (const std::string& peer : *peers) {
      if (!ParsePeer(peer, o->peers)) {
        std::cerr << "faultfs harness node: --peer '" << peer
                  << "' is not J=HOST:PORT (once per J)\n";
        return kExitUsage;
      }
    }
    return harness::RunNode(*o);
  };
}

}  // namespace

Runner AddHarness(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "harness",
      "The replicated-log harness: nodes on faultfs mounts, faults, a checker (docs/harness.md)");
  cmd->require_subcommand(1);
  auto runners = std::make_shared<std::map<std::string, Runner>>();
  (*runners)["node"] = AddHarnessNode(*cmd);
  (*runners)["run"] = AddHarnessRun(*cmd);
  return [cmd, runners] {
    for (const auto* sub : cmd->get_subcommands()) return runners->at(sub->get_name())();
    return kExitUsage;
  };
}

}  // namespace faultfs::cli
