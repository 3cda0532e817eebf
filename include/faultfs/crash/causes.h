// Why a crash state failed. A state usually differs from "everything persisted" in many ways
// (under pp every unsynced write is lost), and most of them are harmless. A cause is one way it
// differs: one omitted, reordered or torn op (with the ops lost with it), one directory entry
// that was not durable, or all the lost unsynced changes of one file together (a checker rarely
// cares about one write of many).
// Undoing one cause gives the state that differs from the failing one only there; if the checker
// accepts that state, the cause is what the application depends on, and it becomes a finding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/crash/history.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/op.h"

namespace faultfs::crash {

struct Cause {
  std::vector<Deviation> deviations;  // one, or the lost changes of one file
  std::string text;                   // the finding, in ALICE's words
};

// The causes of `state`, in the order of their first op.
std::vector<Cause> CausesOf(const std::vector<record::Op>& ops, const History& history,
                            const CrashState& state);

// What to change in the program so that a cause cannot make a state fail, the same whatever the
// model that found it: two causes with the same key have one fix. A lost or omitted data or
// metadata op is fixed by an fsync of its file after it (key "file:<object>"), a lost or omitted
// directory entry by an fsync of its directory after it ("entry:<op>"), a torn op by making it
// tear-proof ("atomic:<op>").
struct Fix {
  std::string key;
  std::string text;           // "fsync the root directory after op 31 (unlink app.db-journal)"
  std::vector<uint32_t> ops;  // the ops it is about (sorted)
};
Fix FixOf(const std::vector<record::Op>& ops, const History& history, const Cause& cause);

// `state` with `cause` undone: its ops (and the missing ops they need) applied whole, their
// deviations gone. The id gets a suffix ("12.3-without-2") so that it is never mistaken for an
// enumerated state.
CrashState Undo(const History& history, const CrashState& state, const Cause& cause,
                size_t cause_index);

}  // namespace faultfs::crash
