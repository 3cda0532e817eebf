#include "faultfs/harness/run.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cluster.h"
#include "faultfs/core/scratch_dir.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/harness/checker.h"
#include "faultfs/harness/client.h"
#include "faultfs/harness/event_loop.h"
#include "faultfs/harness/node_storage.h"
#include "nemesis.h"
#include "run_report.h"

namespace faultfs::harness {
namespace {

constexpr int kExitRunFailed = 4;
constexpr double kConvergeS = 30;

std::atomic<int> g_signal{0};
void OnSignal(int sig) { g_signal = sig; }

// SIGINT, SIGTERM and SIGHUP end the run cleanly while it lasts.
class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, &old_[s]);
    g_signal = 0;
  }
  ~SignalGuard() {
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &old_[s], nullptr);
  }

 private:
  struct sigaction old_[SIGTERM + 1]{};
};

class Run {
 public:
  explicit Run(RunOptions options) : o_(std::move(options)) {}
  int Go();

 private:
  double Now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  Status Prepare();
  Status StartLinks();
  Status BringUp();
  void Drive();
  void Settle(double seconds);
  bool Converged(int64_t horizon);
  FinalState ReadFinal();
  void Progress(bool last);
  void Absorb(std::vector<NodeEvent> events);
  int Finish(const CheckResult& result);

  RunOptions o_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double clients_start_s_ = 0;  // when the cluster was up and the clients began (run time)
  std::string work_;
  bool made_work_ = false;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Cluster> cluster_;
  Links links_;
  std::unique_ptr<Nemesis> nemesis_;
  std::unique_ptr<Clients> clients_;
  std::vector<NodeEvent> node_events_;
  History history_;
  ClientCounters counters_;
  double last_progress_s_ = -10;
  bool tty_ = isatty(STDERR_FILENO) != 0;
};

Status Run::Prepare() {
  work_ = o_.work;
  if (work_.empty()) {
    auto made = MakeScratchDir("faultfs-harness");
    if (!made.ok()) return made.status();
    work_ = std::move(*made);
    made_work_ = true;
  } else if (mkdir(work_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "creating '" + work_ + "'");
  }
  auto cluster = Cluster::Create(ClusterOptions{.work = work_,
                                                .faultfs = o_.faultfs,
                                                .nodes = o_.nodes,
                                                .use_faultfs = o_.use_faultfs,
                                                .seed = o_.seed,
                                                .recovery = o_.recovery,
                                                .repair = o_.repair,
                                                .election_timeout_ms = o_.election_timeout_ms,
                                                .heartbeat_ms = o_.heartbeat_ms});
  if (!cluster.ok()) return cluster.status();
  cluster_ = std::move(*cluster);
  loop_ = std::make_unique<EventLoop>();
  return StartLinks();
}

// One proxy per directed link; and the toxics the whole run keeps.
Status Run::StartLinks() {
  std::vector<Toxic> always;
  if (!o_.link_toxics.empty()) {
    const auto list = nlohmann::json::parse(o_.link_toxics, nullptr, false);
    if (!list.is_array()) return Status::Invalid("--link-toxics: not a JSON list of toxics");
    for (const auto& j : list) {
      auto t = ToxicFromJson(j);
      if (!t.ok()) return Status::Invalid("--link-toxics: " + t.status().message());
      always.push_back(*t);
    }
  }
  for (int from = 0; from < o_.nodes; ++from) {
    for (int to = 0; to < o_.nodes; ++to) {
      if (from == to) continue;
      auto proxy = Proxy::Start(
          loop_->context(),
          ProxyOptions{
              .from = from, .to = to, .target_port = cluster_->peer_port(to), .seed = o_.seed});
      if (!proxy.ok()) return proxy.status();
      for (const Toxic& t : always) FAULTFS_RETURN_IF_ERROR((*proxy)->AddToxic(t));
      cluster_->SetSendAddress(from, to, (*proxy)->address());
      links_[{from, to}] = std::move(*proxy);
    }
  }
  return Status::Ok();
}

Status Run::BringUp() {
  FAULTFS_RETURN_IF_ERROR(cluster_->MountAll());
  FAULTFS_RETURN_IF_ERROR(cluster_->StartAll());
  // Clients start once a leader is known (or after a while without one: then the run shows it).
  const double deadline = Now() + 10 + o_.election_timeout_ms * 20 / 1000.0;
  while (!cluster_->leader() && Now() < deadline && g_signal == 0) {
    Absorb(cluster_->Poll(Now()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto kinds = ParseNemeses(o_.nemesis);
  if (!kinds.ok()) return kinds.status();
  // The schedule starts with the clients: bringing the cluster up takes a machine-dependent
  // while (a slow or sanitized build, several seconds), and events due during it would all fire
  // at once, overlapping, before every node is serving.
  clients_start_s_ = Now();
  const double quiet = o_.quiet_s >= 0 ? o_.quiet_s : std::max(5.0, o_.duration_s / 6);
  std::vector<NemesisEvent> plan = PlanNemeses(PlanSpec{.seed = o_.seed,
                                                        .nodes = o_.nodes,
                                                        .duration_s = o_.duration_s,
                                                        .quiet_s = quiet,
                                                        .kinds = *kinds});
  for (NemesisEvent& e : plan) {
    e.start_s += clients_start_s_;
    e.end_s += clients_start_s_;
  }
  nemesis_ = std::make_unique<Nemesis>(*cluster_, links_, std::move(plan));
  ClientOptions copts;
  for (int n = 0; n < o_.nodes; ++n) copts.nodes.push_back(cluster_->client_address(n));
  copts.seed = o_.seed;
  copts.cluster = cluster_->id();
  copts.processes = o_.clients;
  copts.run_start = start_;
  auto clients = Clients::Start(loop_->context(), copts);
  if (!clients.ok()) return clients.status();
  clients_ = std::move(*clients);
  return Status::Ok();
}

void Run::Absorb(std::vector<NodeEvent> events) {
  if (nemesis_) nemesis_->NodeEvents(events);
  node_events_.insert(node_events_.end(), events.begin(), events.end());
}

void Run::Progress(bool last) {
  if (!o_.progress) return;
  const double now = Now();
  if (!last && now - last_progress_s_ < (tty_ ? 0.5 : 5)) return;
  last_progress_s_ = now;
  const auto leader = cluster_->leader();
  const size_t acked =
      clients_ ? clients_->acknowledged().size() : 0;  // (clients_ is null at the end)
  const std::string fault = nemesis_ ? nemesis_->Current() : "";
  std::fprintf(stderr, "%s%5.1f s  acked %zu  leader %s  nemesis %s%s", tty_ ? "\r\033[K" : "", now,
               acked, leader ? std::to_string(*leader).c_str() : "-",
               fault.empty() ? "-" : fault.c_str(), tty_ && !last ? "" : "\n");
  std::fflush(stderr);
}

void Run::Drive() {
  while (Now() < clients_start_s_ + o_.duration_s && g_signal == 0) {
    Absorb(cluster_->Poll(Now()));
    nemesis_->Tick(Now());
    Progress(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  nemesis_->HealAll(Now());
  Progress(true);
}

// Every node holds a verified entry at every index up to the highest one a client saw.
bool Run::Converged(int64_t horizon) {
  for (int n = 0; n < cluster_->size(); ++n) {
    auto storage = ReadNodeStorage(cluster_->stored_dir(n));
    if (!storage.ok() || static_cast<int64_t>(storage->entries.size()) < horizon) return false;
    for (int64_t i = 0; i < horizon; ++i) {
      if (!storage->entries[static_cast<size_t>(i)].slot_verifies) return false;
    }
  }
  return true;
}

// After the clients stopped: restarts what is down and waits (a while) for the replicas to hold
// everything the clients saw.
void Run::Settle(double seconds) {
  int64_t horizon = 0;
  for (const auto& e : clients_->history()) {
    if (e.type == OpType::kOk) horizon = std::max(horizon, e.log_index);
  }
  const double deadline = Now() + seconds;
  while (Now() < deadline && g_signal == 0) {
    Absorb(cluster_->Poll(Now()));
    if (Converged(horizon)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

FinalState Run::ReadFinal() {
  FinalState final_state;
  for (int n = 0; n < cluster_->size(); ++n) {
    NodeLogState node;
    node.node = n;
    auto storage = ReadNodeStorage(cluster_->stored_dir(n));
    if (!storage.ok()) {
      node.readable = false;
      node.error = storage.status().ToString();
    } else {
      for (const StoredEntry& s : storage->entries) {
        node.entries.push_back(LogEntryState{.present = s.slot_verifies || s.has_record,
                                             .verified = s.slot_verifies,
                                             .term = s.entry.term,
                                             .client = s.entry.client,
                                             .req = s.entry.req,
                                             .value = s.entry.value});
      }
    }
    final_state.nodes.push_back(std::move(node));
  }
  return final_state;
}

int Run::Finish(const CheckResult& result) {
  RunFacts facts{.options = o_,
                 .work = work_,
                 .seconds = Now(),
                 .node_events = node_events_,
                 .bands = nemesis_->bands(),
                 .marks = nemesis_->marks(),
                 .nemesis_counts = nemesis_->counts(),
                 .nemesis_errors = nemesis_->errors(),
                 .failover_s = nemesis_->failover_s(),
                 .restarts = cluster_->restarts(),
                 .history = history_,
                 .result = result};
  facts.false_suspicions = 0;
  for (const NodeEvent& e : node_events_) {
    if (e.event == "suspect" && e.of >= 0 &&
        !nemesis_->Impaired(static_cast<int>(e.of), e.t_s, o_.election_timeout_ms * 2 / 1000.0))
      ++facts.false_suspicions;
  }
  return WriteReports(facts);
}

int Run::Go() {
  if (auto kinds = ParseNemeses(o_.nemesis); !kinds.ok()) {
    std::fprintf(stderr, "faultfs harness run: %s\n", kinds.status().message().c_str());
    return 2;
  }
  SignalGuard signals;
  Status s = Prepare();
  if (s.ok()) s = BringUp();
  if (!s.ok()) {
    std::fprintf(stderr, "faultfs harness: %s\n", s.ToString().c_str());
    if (cluster_) (void)cluster_->Teardown();
    std::fprintf(stderr, "faultfs harness: work directory kept: %s\n", work_.c_str());
    return kExitRunFailed;
  }
  Drive();
  clients_->Stop();
  (void)clients_->Wait(std::chrono::seconds(15));
  if (g_signal == 0) Settle(kConvergeS);
  for (int n = 0; n < cluster_->size(); ++n) (void)cluster_->Kill(n);
  const FinalState final_state = ReadFinal();
  history_ = clients_->history();
  counters_ = clients_->counters();
  clients_.reset();
  links_.clear();
  const Status down = cluster_->Teardown();
  if (!down.ok())
    std::fprintf(stderr, "faultfs harness: taking the cluster down: %s\n", down.ToString().c_str());
  if (g_signal != 0) {
    std::fprintf(stderr, "faultfs harness: interrupted (signal %d); nothing left running\n",
                 g_signal.load());
    if (made_work_ && !o_.keep) (void)RemoveTree(work_);
    return 128 + g_signal;
  }
  const int code = Finish(Check(history_, final_state, counters_));
  if (code == 0 && made_work_ && !o_.keep) (void)RemoveTree(work_);
  return code;
}

}  // namespace

int RunHarness(const RunOptions& options) { return Run(options).Go(); }

}  // namespace faultfs::harness
