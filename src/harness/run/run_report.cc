#include "run_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

namespace faultfs::harness {
namespace {

struct EventCounts {
  uint64_t elections = 0, leaders = 0, suspicions = 0, repairs = 0, read_repairs = 0, exits = 0;
};

EventCounts CountEvents(const std::vector<NodeEvent>& events) {
  EventCounts c;
  for (const NodeEvent& e : events) {
    c.elections += e.event == "election";
    c.leaders += e.event == "leader";
    c.suspicions += e.event == "suspect";
    c.repairs += e.event == "repaired";
    c.read_repairs += e.event == "read_repair";
    c.exits += e.event == "exited";
  }
  return c;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The acknowledged appends' throughput over the client phase and their latency (invoke to ok,
// retries included): what the cluster costs a client.
struct AppendCost {
  double per_s = 0, p50_ms = 0, p99_ms = 0;
};

AppendCost AppendCosts(const History& history, double duration_s) {
  std::map<int64_t, int64_t> invoked;  // process -> its invoke time
  std::vector<double> ms;
  for (const HistoryEvent& e : history) {
    if (e.f != OpF::kAppend) continue;
    if (e.type == OpType::kInvoke) {
      invoked[e.process] = e.time_ns;
    } else if (e.type == OpType::kOk && invoked.count(e.process) != 0) {
      ms.push_back(static_cast<double>(e.time_ns - invoked[e.process]) / 1e6);
    }
  }
  AppendCost cost;
  if (ms.empty()) return cost;
  std::sort(ms.begin(), ms.end());
  cost.per_s = duration_s > 0 ? static_cast<double>(ms.size()) / duration_s : 0;
  cost.p50_ms = ms[ms.size() / 2];
  cost.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  return cost;
}

std::string Replay(const RunOptions& o) {
  char duration[32];
  std::snprintf(duration, sizeof(duration), "%gs", o.duration_s);
  std::string cmd = "faultfs harness run --nodes " + std::to_string(o.nodes) + " --duration " +
                    duration + " --seed " + std::to_string(o.seed) + " --nemesis " + o.nemesis;
  if (o.recovery != "protocol") cmd += " --recovery " + o.recovery;
  if (o.repair != "verified") cmd += " --repair " + o.repair;
  if (!o.use_faultfs) cmd += " --no-faultfs";
  return cmd;
}

std::string OpsWords(const CheckResult& r) {
  std::string text;
  for (const auto& [f, c] : r.ops) {
    text += (text.empty() ? "" : "; ") + f + " ok " + std::to_string(c.ok) + ", fail " +
            std::to_string(c.fail) + ", info " + std::to_string(c.info);
  }
  return text;
}

void PrintSummary(const RunFacts& f, const EventCounts& c, std::FILE* out) {
  const CheckResult& r = f.result;
  std::fprintf(out, "faultfs harness: %s (seed %llu, %d nodes, %.0f s, nemesis %s)\n",
               std::string(VerdictName(r.verdict)).c_str(),
               static_cast<unsigned long long>(f.options.seed), f.options.nodes, f.seconds,
               f.options.nemesis.c_str());
  for (const std::string& why : r.reasons) std::fprintf(out, "  %s\n", why.c_str());
  for (const auto& v : r.violations) {
    std::fprintf(out, "  violation %s at index %lld: %s\n", v.kind.c_str(),
                 static_cast<long long>(v.index), v.detail.c_str());
  }
  std::fprintf(out, "  operations: %s\n", OpsWords(r).c_str());
  const AppendCost cost = AppendCosts(f.history, f.options.duration_s);
  std::fprintf(out, "  appends: %.0f/s acknowledged, latency p50 %.1f ms, p99 %.1f ms\n",
               cost.per_s, cost.p50_ms, cost.p99_ms);
  std::fprintf(
      out,
      "  retries %llu, elections %llu, leaders %llu, suspicions %llu (%llu false), "
      "repairs %llu (read repairs %llu), node restarts %llu\n",
      static_cast<unsigned long long>(r.clients.retries),
      static_cast<unsigned long long>(c.elections), static_cast<unsigned long long>(c.leaders),
      static_cast<unsigned long long>(c.suspicions),
      static_cast<unsigned long long>(f.false_suspicions),
      static_cast<unsigned long long>(c.repairs), static_cast<unsigned long long>(c.read_repairs),
      static_cast<unsigned long long>(f.restarts));
  std::string nemeses;
  for (const auto& [kind, n] : f.nemesis_counts) nemeses += " " + kind + " " + std::to_string(n);
  std::fprintf(out, "  nemeses:%s; leader failovers %zu (median %.2f s)\n",
               nemeses.empty() ? " none" : nemeses.c_str(), f.failover_s.size(),
               Median(f.failover_s));
  for (const std::string& e : f.nemesis_errors)
    std::fprintf(out, "  nemesis not injected: %s\n", e.c_str());
  std::fprintf(out, "  replay: %s\n", Replay(f.options).c_str());
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  return out ? Status::Ok() : Status::FromErrno(errno, "writing '" + path + "'");
}

}  // namespace

nlohmann::json ReportJson(const RunFacts& f) {
  const EventCounts c = CountEvents(f.node_events);
  const AppendCost cost = AppendCosts(f.history, f.options.duration_s);
  return {{"verdict", VerdictName(f.result.verdict)},
          {"seed", f.options.seed},
          {"nodes", f.options.nodes},
          {"seconds", f.seconds},
          {"nemesis", f.options.nemesis},
          {"recovery", f.options.recovery},
          {"repair", f.options.repair},
          {"faultfs", f.options.use_faultfs},
          {"check", CheckResultJson(f.result)},
          {"nemeses", f.nemesis_counts},
          {"nemesis_errors", f.nemesis_errors},
          {"elections", c.elections},
          {"leaders", c.leaders},
          {"suspicions", c.suspicions},
          {"false_suspicions", f.false_suspicions},
          {"repairs", c.repairs},
          {"read_repairs", c.read_repairs},
          {"node_exits", c.exits},
          {"node_restarts", f.restarts},
          {"leader_failover_s", f.failover_s},
          {"appends_per_s", cost.per_s},
          {"append_latency_ms", {{"p50", cost.p50_ms}, {"p99", cost.p99_ms}}},
          {"replay", Replay(f.options)}};
}

Timeline BuildTimeline(const RunFacts& f) {
  Timeline t;
  t.title = "faultfs harness run: " + std::string(VerdictName(f.result.verdict)) + ", seed " +
            std::to_string(f.options.seed);
  t.duration_s = std::max(f.seconds, f.options.duration_s);
  t.nodes = f.options.nodes;
  const EventCounts c = CountEvents(f.node_events);
  t.summary = {
      {"verdict", std::string(VerdictName(f.result.verdict))},
      {"operations", OpsWords(f.result)},
      {"elections / leaders", std::to_string(c.elections) + " / " + std::to_string(c.leaders)},
      {"suspicions (false)",
       std::to_string(c.suspicions) + " (" + std::to_string(f.false_suspicions) + ")"},
      {"repairs (read repairs)",
       std::to_string(c.repairs) + " (" + std::to_string(c.read_repairs) + ")"},
      {"replay", Replay(f.options)}};
  for (const auto& v : f.result.violations)
    t.summary.emplace_back("violation: " + v.kind,
                           "index " + std::to_string(v.index) + ": " + v.detail);
  t.bands = f.bands;
  t.marks = f.marks;
  for (const NodeEvent& e : f.node_events) {
    if (e.event == "leader" || e.event == "exited" || e.event == "restarted" ||
        e.event == "suspect" || e.event == "repaired")
      t.marks.push_back(
          {e.t_s, e.node, e.event, e.term >= 0 ? "term " + std::to_string(e.term) : ""});
  }
  std::map<int64_t, const HistoryEvent*> open;  // process -> its invoke
  for (const HistoryEvent& e : f.history) {
    if (e.type == OpType::kInvoke) {
      open[e.process] = &e;
      continue;
    }
    const auto it = open.find(e.process);
    if (it == open.end()) continue;
    t.ops.push_back({static_cast<double>(it->second->time_ns) / 1e9,
                     static_cast<double>(e.time_ns) / 1e9, std::string(OpFName(e.f)),
                     std::string(OpTypeName(e.type)), static_cast<int>(e.process)});
    open.erase(it);
  }
  return t;
}

int WriteReports(const RunFacts& f) {
  PrintSummary(f, CountEvents(f.node_events), stdout);
  int code = VerdictExitCode(f.result.verdict);
  auto write = [&](const std::string& path, const std::string& text) {
    if (path.empty()) return;
    if (Status s = WriteFile(path, text); !s.ok()) {
      std::fprintf(stderr, "faultfs harness: %s\n", s.ToString().c_str());
      code = 1;
    }
  };
  write(f.options.json, ReportJson(f).dump(2) + "\n");
  write(f.options.history, HistoryEdn(f.history));
  write(f.options.report, RenderHtml(BuildTimeline(f)));
  if (code != 0 || f.options.keep) std::printf("work directory kept: %s\n", f.work.c_str());
  return code;
}

}  // namespace faultfs::harness
