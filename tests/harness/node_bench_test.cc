// Goal: measure what a 3-node cluster sustains (appends/s and acknowledgement latency) with
// concurrent closed-loop clients. Skipped unless FAULTFS_NODE_BENCH names the directory to put
// the nodes' data in (a plain disk directory or a tmpfs), e.g.
//   FAULTFS_NODE_BENCH=/dev/shm harness_node_process_test --gtest_filter='NodeBench.*'
// Optional: FAULTFS_NODE_BENCH_CLIENTS (default 16), FAULTFS_NODE_BENCH_SECONDS (default 5).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "faultfs/harness/history.h"
#include "node_cluster.h"
#include "test_support.h"

namespace faultfs::harness::testing {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

TEST(NodeBench, ThroughputAndLatency) {
  const char* base = std::getenv("FAULTFS_NODE_BENCH");
  if (base == nullptr || *base == '\0') GTEST_SKIP() << "set FAULTFS_NODE_BENCH=DIR to run";
  const int clients = EnvInt("FAULTFS_NODE_BENCH_CLIENTS", 16);
  const double seconds = EnvInt("FAULTFS_NODE_BENCH_SECONDS", 5);
  faultfs::testing::TempDir dir("bench", base);
  NodeCluster cluster(dir.path(), 3, {"--queue", "1024"});
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  ASSERT_TRUE(cluster.AppendAcked(1000, 0, MakeValue(1000, 0, "warm")));
  const uint16_t port = cluster.client_port(*cluster.Leader());

  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::vector<int> failures(static_cast<size_t>(clients), 0);
  std::vector<std::thread> threads;
  const std::string text(100, 'x');  // ~120-byte values
  const double start = MonotonicMs();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(port);
      for (int64_t req = 1; !stop.load(); ++req) {
        const double sent = MonotonicMs();
        const auto reply = client.Append(c, req, MakeValue(c, req, text), 10);
        if (!reply || reply->value("status", "") != "ok") {
          ++failures[static_cast<size_t>(c)];
          continue;
        }
        latencies[static_cast<size_t>(c)].push_back(MonotonicMs() - sent);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed_s = (MonotonicMs() - start) / 1000;
  std::vector<double> all;
  int failed = 0;
  for (size_t c = 0; c < latencies.size(); ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    failed += failures[c];
  }
  std::sort(all.begin(), all.end());
  ASSERT_FALSE(all.empty());
  const auto at = [&](double q) {
    return all[static_cast<size_t>(q * static_cast<double>(all.size() - 1))];
  };
  std::printf(
      "%s: %d clients, %zu appends in %.1f s = %.0f appends/s; latency p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms; %d not ok\n",
      base, clients, all.size(), elapsed_s, static_cast<double>(all.size()) / elapsed_s, at(0.5),
      at(0.99), all.back(), failed);
}

}  // namespace
}  // namespace faultfs::harness::testing
