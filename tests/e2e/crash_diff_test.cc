// Goal: `faultfs crash diff` tells what a crash state lacks against the full state at its crash
// point, on a workload recorded through a real mount: a pp state that loses a rename shows the old
// file's content and the leftover temporary name, one that loses unsynced data shows the byte
// ranges and sizes, both name the lost ops; --json carries the same; a prefix state has no
// differences; an unknown state id exits 2 pointing to `crash list`; a failure exits 1; the
// scratch directory is always removed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crashtest_output.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

// f.tmp is fsynced before it replaces f, but the root directory never is (the rename may be
// lost); g's data is never synced (it is lost in every pp state).
constexpr char kWorkload[] = "printf new > f.tmp && sync f.tmp && mv f.tmp f && printf data > g";

class CrashDiff : public ::testing::Test {
 protected:
  // One recording for every test: a crashtest run kept with --keep leaves its record log.
  static void SetUpTestSuite() {
    dir_ = new TempDir("crashdiff");
    const std::string data = *dir_ / "data";
    ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
    WriteFile(data + "/f", "old");
    const CommandResult r =
        RunCommand({FaultfsBinary(), "crashtest", "--dir", data, "--workload", kWorkload, "--check",
                    "true", "--model", "prefix", "--seed", "1", "--keep"},
                   {"TMPDIR=" + dir_->path()}, 240);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string kept = CrashtestKeptWork(r.out);
    ASSERT_NE(kept, "") << r.out;
    log_ = kept + "/record.log";
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Runs `faultfs crash diff` with scratch space in a directory of its own, and checks it left
  // nothing there.
  static CommandResult Diff(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FaultfsBinary(), "crash", "diff", log_};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string scratch = *dir_ / "scratch";
    mkdir(scratch.c_str(), 0755);
    CommandResult r = RunCommand(argv, {"TMPDIR=" + scratch});
    EXPECT_TRUE(Empty(scratch)) << "crash diff left its scratch directory behind";
    return r;
  }
  static bool Empty(const std::string& path) {
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return false;
    int entries = 0;
    while (const dirent* e = readdir(d)) entries += e->d_name[0] != '.';
    closedir(d);
    return entries == 0;
  }
  // The id of the first pp state whose deviations are exactly `findings` (in any order).
  static std::string PpStateWith(const std::vector<std::string>& findings) {
    const CommandResult list =
        RunCommand({FaultfsBinary(), "crash", "list", log_, "--model", "pp", "--json"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    std::istringstream lines(list.out);
    std::string line;
    while (std::getline(lines, line)) {
      const auto j = nlohmann::json::parse(line);
      std::vector<std::string> got;
      for (const auto& d : j["deviations"]) got.push_back(d["finding"]);
      std::sort(got.begin(), got.end());
      auto want = findings;
      std::sort(want.begin(), want.end());
      if (got == want) return j["id"];
    }
    ADD_FAILURE() << "no pp state with exactly those findings in\n" << list.out;
    return "";
  }
  // The line of `out` that starts with `prefix` (without its newline), or "".
  static std::string LineStarting(const std::string& out, const std::string& prefix) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind(prefix, 0) == 0) return line;
    return "";
  }

  static inline TempDir* dir_ = nullptr;
  static inline std::string log_;
};

constexpr char kLostRename[] =
    "durability of op 4 (rename f.tmp -> f) needs an fsync of the root directory";
constexpr char kLostData[] = "durability of op 6 (write g) needs an fsync of g";

TEST_F(CrashDiff, AStateThatLosesARenameKeepsTheOldFileAndTheTemporaryName) {
  const std::string id = PpStateWith({kLostRename, kLostData});
  ASSERT_FALSE(id.empty());
  const CommandResult r = Diff({"--model", "pp", "--state", id});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("state " + id + " (model pp, seed 1): crash after op 6 (write g)", 0), 0U)
      << r.out;
  EXPECT_NE(r.out.find("3 differences from the full state, where ops 1-6 all persisted (values: "
                       "full vs crash):\n"
                       "  content   f      bytes [0, 3) differ\n"
                       "  extra     f.tmp\n"
                       "  content   g      bytes [0, 4) differ; size 4 vs 0\n"
                       "ops it loses or tears:\n"
                       "  " +
                       std::string(kLostRename) +
                       "\n"
                       "  " +
                       kLostData + "\n"),
            std::string::npos)
      << r.out;
}

TEST_F(CrashDiff, AStateThatLosesUnsyncedDataShowsTheByteRangesAndSizes) {
  const std::string id = PpStateWith({kLostData});
  ASSERT_FALSE(id.empty());
  const CommandResult r = Diff({"--model", "pp", "--state", id});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LineStarting(r.out, "  content"), "  content   g  bytes [0, 4) differ; size 4 vs 0")
      << r.out;
  EXPECT_EQ(
      LineStarting(r.out, "1 difference"),
      "1 difference from the full state, where ops 1-6 all persisted (values: full vs crash):")
      << r.out;
  EXPECT_EQ(LineStarting(r.out, "  durability"), std::string("  ") + kLostData) << r.out;
}

TEST_F(CrashDiff, JsonCarriesTheStateAndItsDifferences) {
  const std::string id = PpStateWith({kLostRename, kLostData});
  const CommandResult r = Diff({"--model", "pp", "--state", id, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["model"], "pp");
  EXPECT_EQ(j["compared_with"]["model"], "prefix");
  EXPECT_EQ(j["deviations"].size(), 2U);
  ASSERT_EQ(j["differences"].size(), 3U) << r.out;
  const auto& content = j["differences"][2];
  EXPECT_EQ(content["kind"], "content");
  EXPECT_EQ(content["path"], "g");
  EXPECT_EQ(content["full_size"], 4);
  EXPECT_EQ(content["crash_size"], 0);
  EXPECT_EQ(content["ranges"], nlohmann::json::parse("[[0, 4]]"));
  EXPECT_EQ(j["differences"][1],
            nlohmann::json::parse(R"({"kind":"extra","path":"f.tmp","full":"","crash":"file"})"));
}

TEST_F(CrashDiff, APrefixStateHasNoDifferences) {
  const CommandResult r = Diff({"--model", "prefix", "--state", "6"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nno difference from the full state, where ops 1-6 all persisted\n"
                       "ops it loses or tears: none\n"),
            std::string::npos)
      << r.out;
}

TEST_F(CrashDiff, AnUnknownStateIdIsBadUsage) {
  const CommandResult r = Diff({"--model", "pp", "--state", "99.9"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("has no crash state '99.9'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("faultfs crash list"), std::string::npos) << r.err;
  EXPECT_EQ(Diff({"--model", "pp"}).exit_code, 2) << "--state is required";
}

TEST_F(CrashDiff, AStateThatCannotBeRebuiltIsAnErrorAndLeavesNoScratch) {
  // A copy of the log without its starting snapshot beside it.
  const std::string lone = *dir_ / "lone";
  ASSERT_EQ(mkdir(lone.c_str(), 0755), 0);
  WriteFile(lone + "/record.log", ReadFile(log_));
  const std::string scratch = *dir_ / "scratch";
  mkdir(scratch.c_str(), 0755);
  const CommandResult r = RunCommand(
      {FaultfsBinary(), "crash", "diff", lone + "/record.log", "--model", "pp", "--state", "6"},
      {"TMPDIR=" + scratch});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("faultfs: crash diff: "), std::string::npos) << r.err;
  EXPECT_TRUE(Empty(scratch));
}

}  // namespace
}  // namespace faultfs::testing
