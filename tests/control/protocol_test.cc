// Goal: every control request parses to the right command, and every malformed one gets an error
// that says what is wrong (never a crash).
#include "faultfs/control/protocol.h"

#include <gtest/gtest.h>

namespace faultfs::control {
namespace {

TEST(ParseCommand, EveryCommand) {
  EXPECT_TRUE(std::holds_alternative<GetStatus>(*ParseCommand(R"({"cmd":"status"})")));
  EXPECT_TRUE(std::holds_alternative<ListRules>(*ParseCommand(R"({"cmd":"rules"})")));
  EXPECT_TRUE(std::holds_alternative<GetStats>(*ParseCommand(R"({"cmd":"stats"})")));
  EXPECT_TRUE(std::holds_alternative<FreezeMount>(*ParseCommand(R"({"cmd":"freeze"})")));
  EXPECT_TRUE(std::holds_alternative<ThawMount>(*ParseCommand(R"({"cmd":"thaw"})")));
  EXPECT_TRUE(std::holds_alternative<ReleaseStalled>(*ParseCommand(R"({"cmd":"release"})")));
  EXPECT_EQ(std::get<AddRules>(*ParseCommand(R"({"cmd":"add","policy":"[[rule]]"})")).policy_toml,
            "[[rule]]");
  EXPECT_EQ(std::get<LoadPolicy>(*ParseCommand(R"({"cmd":"load","policy":"x"})")).policy_toml, "x");
  EXPECT_EQ(std::get<LoadPolicy>(*ParseCommand(R"({"cmd":"load","policy":""})")).policy_toml, "")
      << "an empty policy clears every rule and budget";
  EXPECT_EQ(std::get<RemoveRule>(*ParseCommand(R"({"cmd":"remove","id":"r"})")).id, "r");
  EXPECT_FALSE(std::get<EnableRule>(*ParseCommand(R"({"cmd":"disable","id":"r"})")).enabled);
  EXPECT_TRUE(std::get<EnableRule>(*ParseCommand(R"({"cmd":"enable","id":"r"})")).enabled);
  EXPECT_TRUE(std::get<TailEvents>(*ParseCommand(R"({"cmd":"events","follow":true})")).follow);
  EXPECT_FALSE(std::get<TailEvents>(*ParseCommand(R"({"cmd":"events"})")).follow);
  EXPECT_EQ(std::get<TailEvents>(*ParseCommand(R"({"cmd":"events"})")).last, 0U);
  EXPECT_EQ(std::get<TailEvents>(*ParseCommand(R"({"cmd":"events","last":1000})")).last, 1000U);
  EXPECT_TRUE(std::holds_alternative<RecoverMount>(*ParseCommand(R"({"cmd":"recover"})")));
  const auto plain = std::get<CrashMount>(*ParseCommand(R"({"cmd":"crash"})"));
  EXPECT_EQ(plain.model, "pp");
  EXPECT_TRUE(plain.kill.empty()) << "no caller: nobody is killed unless named";
  const auto named =
      std::get<CrashMount>(*ParseCommand(R"({"cmd":"crash","model":"weak","kill":["pg","x"]})"));
  EXPECT_EQ(named.model, "weak");
  EXPECT_EQ(named.kill, (std::vector<std::string>{"pg", "x"}));
}

TEST(ParseCommand, MalformedRequestsSayWhy) {
  struct Case {
    std::string line;
    const char* says;
  };
  const Case cases[] = {
      {"garbage", "not JSON"},
      {"[1,2]", "must be a JSON object"},
      {R"({"command":"status"})", "needs \"cmd\""},
      {R"({"cmd":42})", "needs \"cmd\""},
      {R"({"cmd":"explode"})", "unknown command 'explode'"},
      {R"({"cmd":"add"})", "'add' needs \"policy\""},
      {R"({"cmd":"remove","id":7})", "must be a string"},
      {R"({"cmd":"enable","id":""})", "is empty"},
      {R"({"cmd":"events","follow":"yes"})", "true or false"},
      {R"({"cmd":"events","last":1001})", "\"last\" must be a whole number from 0 to 1000"},
      {R"({"cmd":"events","last":-1})", "\"last\" must be a whole number"},
      {R"({"cmd":"events","last":"5"})", "\"last\" must be a whole number"},
      {R"({"cmd":"events","last":2.5})", "\"last\" must be a whole number"},
      {R"({"cmd":"crash","model":""})", "is empty"},
      {R"({"cmd":"crash","kill":"postgres"})", "must be an array"},
      {R"({"cmd":"crash","kill":[""]})", "must hold process names"},
      {std::string(kMaxLineBytes + 1, ' '), "longer than 1 MiB"},
  };
  for (const auto& c : cases) {
    const auto r = ParseCommand(c.line);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_NE(r.status().ToString().find(c.says), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace faultfs::control
