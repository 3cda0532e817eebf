// PolicyMountTest: a faultfs mount over its own backing directory, started with a policy, for
// tests that show an application observing what the policy does.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace faultfs::testing {

// Writes through a descriptor and returns write()'s result (or -errno).
inline long Write(const std::string& path, const std::string& data, off_t off = 0, int flags = 0) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | flags, 0644);
  if (fd < 0) return -errno;
  const long n = pwrite(fd, data.data(), data.size(), off);
  const long res = n < 0 ? -errno : n;
  close(fd);
  return res;
}

class PolicyMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }
  // Mounts with `policy` (TOML). Files created before mounting go in through the backing dir.
  void Mount(const std::string& policy, std::vector<std::string> args = {}) {
    WriteFile(dir_ / "policy.toml", policy);
    args.insert(args.end(), {"--policy", dir_ / "policy.toml", "--events", dir_ / "events.jsonl"});
    ASSERT_EQ(mount_.Start(backing_, mnt_, args), "");
  }
  std::vector<nlohmann::json> Events() {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_ / "events.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::string M(const std::string& rel) { return mnt_ + "/" + rel; }
  std::string B(const std::string& rel) { return backing_ + "/" + rel; }

  TempDir dir_{"policy"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
  FaultfsMount mount_;
};

}  // namespace faultfs::testing
