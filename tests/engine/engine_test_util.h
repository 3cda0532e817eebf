// Helpers shared by the engine tests: a policy from TOML text, an engine with it loaded, and an
// operation context on a regular file.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "faultfs/engine/engine.h"
#include "faultfs/policy/parse.h"

namespace faultfs::engine {

// The policy `toml` describes; a parse error fails the test.
inline policy::Policy P(std::string_view toml) {
  auto out = policy::ParsePolicy(toml, "t.toml");
  for (const auto& e : out.errors) ADD_FAILURE() << e.ToString();
  return out.ok() ? *out.policy : policy::Policy{};
}

inline std::unique_ptr<FaultEngine> Loaded(std::string_view toml, uint64_t seed = 7) {
  auto e = std::make_unique<FaultEngine>(seed);
  EXPECT_TRUE(e->Load(P(toml)).ok());
  return e;
}

// `op` on the regular file `path`, by this process, uid and gid 1000.
inline OpContext Ctx(policy::Op op, std::string_view path = "f", uint64_t offset = 0,
                     uint64_t size = 4096) {
  OpContext c;
  c.op = op;
  c.path = path;
  c.mode = S_IFREG | 0644;
  c.offset = offset;
  c.size = size;
  c.pid = getpid();
  c.uid = 1000;
  c.gid = 1000;
  return c;
}

inline int Err(FaultEngine& e, const OpContext& c) { return e.Decide(c).err; }

}  // namespace faultfs::engine
