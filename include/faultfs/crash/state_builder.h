// Building crash states one after another, fast. Materialize copies the whole starting snapshot
// for every state and HashTree reads it all back: both cost the snapshot's size per state, though
// most files are untouched by the recorded ops. A StateBuilder keeps, in its slot directory, a
// private copy of the snapshot (the pristine copy) and lends its files to each state instead:
//
//  * a regular file with a single name is moved (renamed) from the pristine copy into the state;
//    everything else (directories, symlinks, special files, hard-linked files) is copied as
//    CopyTree copies it;
//  * before an op would change a lent file in place (data, mode, owner, xattrs) or give it a
//    second name, the file goes back and the state gets a real copy from the snapshot instead;
//    a lent file whose name an op removes goes back too;
//  * the content hash uses the known digest of every lent file, reading only the others;
//  * when a state applies the ops of the previous one and more (crash points one after another),
//    and the checker left the previous state exactly as it was built (every object's stat is as
//    the hash saw it), the new state is the previous one with the further ops applied: building
//    it costs the ops it adds, not the ops it holds. What the checker did is found out along the
//    way, by the ops' paths before they change them and by the new hash for the rest, which
//    reads only the files the ops touched (state_builder_extend.cc); when it changed anything,
//    the state is built the next way;
//  * otherwise, when the state is asked for where the previous one was, and the kernel stamps every
//    change with a new ctime, the new state is built in place of the previous one: one walk puts
//    back what the previous state's ops and its checker changed (by stat: removed names return,
//    new ones go, changed files are lent or copied again, directories get their mode and times
//    back), and the untouched files stay where they are (state_builder_reset.cc);
//  * after the checker, lent files are lent on to the next state (or go back) unless the checker
//    changed, moved or removed them (their inode, size, times, links, mode or owner differ from
//    when the state was hashed: the kernel stamps any change with a new ctime); those are copied
//    again from the snapshot.
//
// A state built here holds the same names, contents, modes, owners, xattrs, link counts and
// modification times as Materialize's, and hashes the same (tests/crash/state_builder_test.cc).
// The one difference: a lent file's access time may be that of an earlier state's reads.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/crash/head_start.h"
#include "faultfs/crash/history.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

class StateBuilder {
 public:
  // `slot`: a directory of this builder's own (created if missing) on the filesystem where the
  // states will be built; the pristine copy goes in `slot`/pristine. `checkpoint_every`: how many
  // more shared ops make a new checkpoint worth building (see Build). `head`: what spares the
  // first state its copy and its hash (head_start.h); `head.digests` must outlive the builder.
  static Result<std::unique_ptr<StateBuilder>> Create(const std::string& snapshot,
                                                      const record::ReadLog& log, uint64_t seed,
                                                      const std::string& slot,
                                                      size_t checkpoint_every = 32,
                                                      const HeadStart& head = {});
  ~StateBuilder();  // takes the last state back and removes the pristine copy
  StateBuilder(const StateBuilder&) = delete;
  StateBuilder& operator=(const StateBuilder&) = delete;

  // Builds `state` in `out` (replacing whatever is there; on the slot's filesystem), exactly as
  // Materialize would, and returns its HashTree. The previous state, if not taken back yet, is
  // taken back first, or extended when `state` continues it (same `out`).
  //
  // `shared`: every state asked for after this one applies the same first `shared` ops as this
  // one (SharedPrefixes() tells). The builder may then move its starting point (a checkpoint):
  // its own copy of the snapshot with those ops applied, from which later states are built, so
  // that their cost follows the ops after the checkpoint, not the length of the log. A state that
  // does not start with the checkpoint's ops sends the builder back to the snapshot.
  Result<std::string> Build(const CrashState& state, const std::string& out, size_t shared = 0);
  // Takes the lent files of the last state back and removes the state. An error means the
  // pristine copy had to be rebuilt and could not be. (Build does this itself, lending the
  // intact files of the last state directly to the next.)
  Status TakeBack();

  struct Stats {
    uint64_t lent = 0;         // files moved into states
    uint64_t unshared = 0;     // lent files an op was about to change, replaced by copies
    uint64_t recopied = 0;     // pristine files copied again (changed by a checker, or lost)
    uint64_t extended = 0;     // states built by applying more ops to the previous state
    uint64_t reset = 0;        // states built in place of the previous one, its changes put back
    uint64_t checkpoints = 0;  // times the starting point moved forward
    uint64_t adopted = 0;      // files moved in from the recorded directory instead of copied
  };
  const Stats& stats() const { return stats_; }

 private:
  struct File;
  struct SnapEntry;
  class Hooks;
  class Observer;
  StateBuilder(std::string snapshot, const record::ReadLog& log, uint64_t seed,
               const std::string& slot, size_t checkpoint_every, const HeadStart& head);
  Status FillPristine(bool lazy);
  Status ScanBase(bool lazy);
  Status Bear(File& f);
  Status CopyIn(File& f, int dir, const char* name);
  Status Born(File& f, int dir, const char* name);
  void FindRecorded(File& f, const struct stat& snap);
  const std::string* KnownDigest(const std::string& path, const struct stat& st) const;
  // Checkpoints (state_builder_checkpoint.cc).
  Status Advance(const CrashState& state, size_t shared);
  Status StartCheckpoints();
  Status BackToSnapshot();
  int base() const { return master_ ? master_.get() : snapshot_.get(); }
  const std::string& base_path() const { return master_ ? master_path_ : snapshot_path_; }
  Result<bool> Lend(const std::string& path, int out_dir, const char* name);
  Result<std::string> Hash();
  Result<std::string> Finish();
  Result<std::string> ApplyAndFinish(const CrashState& state, const std::string& out);
  bool Continues(const CrashState& state, const std::string& out) const;
  // Extending the current state (state_builder_extend.cc).
  Result<std::optional<std::string>> Extend(const CrashState& state);
  Status Touch(const std::string& path);
  void CheckUnchanged(const std::string& path, const struct stat& st);
  void ForgetHash();
  File* LentAt(int dir, const std::string& path, bool follow, std::string* rel);
  Status Unshare(const std::string& path, bool follow);
  Status Recopy(File& f);
  Status Judged(File& f);
  Status Park();
  Status Unpark();
  // Building a state in place of the previous one (state_builder_reset.cc).
  bool CanReset(const std::string& out) const;
  Result<bool> Reset();
  Result<bool> ResetDir(const std::string& rel, int fd, const struct stat& want, bool xattrs);
  Status RemoveEntry(int dir, const char* name, const struct stat& st);
  Result<bool> Restore(int dir, const std::string& path, const char* name, const SnapEntry& e);
  Result<bool> FixDir(int fd, const std::string& rel, const struct stat& want, bool xattrs);
  Status RecordClean();

  const std::string snapshot_path_;
  const record::ReadLog& log_;
  const std::shared_ptr<const History> history_;  // the log resolved, for every applier
  const uint64_t seed_;
  const std::string pristine_path_;
  const std::string previous_path_;  // the previous state, moved aside whole
  const std::string master_path_;    // the checkpoint: the snapshot with base_applied_ applied
  const size_t checkpoint_every_;
  UniqueFd snapshot_;
  // The head start (head_start.h): the snapshot's digests, and the recorded directory with its
  // untouched files (path -> inode number there), while any of them may still be taken.
  const SnapshotDigests* const digests_;
  UniqueFd recorded_;
  dev_t recorded_dev_ = 0;
  std::unordered_map<std::string, uint64_t> untouched_;
  // What the pristine copy is a copy of: the snapshot, or (when open) the checkpoint, with the
  // ops it holds and appliers that know its names, one for it and one for the pristine copy.
  UniqueFd master_;
  std::vector<Applied> base_applied_;
  std::unique_ptr<class Applier> master_applier_;
  std::unique_ptr<class Applier> pristine_applier_;
  UniqueFd pristine_;
  UniqueFd previous_;
  dev_t dev_ = 0;                                                 // the pristine copy's filesystem
  std::unordered_map<std::string, std::unique_ptr<File>> files_;  // by path in the snapshot
  std::unordered_map<ino_t, File*> by_ino_;                       // pristine inode -> file
  std::vector<File*> out_;                                        // files lent to the current state
  std::vector<File*> parked_;  // intact files left in the previous state
  std::string state_path_;     // the current state ("" when none)
  UniqueFd state_;
  std::unique_ptr<Hooks> hooks_;
  // The current state as built, to be extended: its applier, the ops it applied, where it was
  // asked for, and every object in it as its hash saw it, by path ("" the root).
  std::unique_ptr<class Applier> applier_;
  std::vector<Applied> built_;
  std::string out_path_;
  std::unordered_map<std::string, struct stat> seen_;
  // The regular files, not lent, that the current state's hash read, by path: their digests.
  std::unordered_map<std::string, std::string> read_;
  // While a state is extended: the paths its ops touched (each checked against seen_ before the
  // first op changed it); whether the checker turned out to have changed the state; and, during
  // the hash, seen_ and read_ of the hash before.
  bool extending_ = false;
  bool spoiled_ = false;
  std::unordered_set<std::string> touched_;
  std::unordered_map<std::string, struct stat> seen_before_;
  std::unordered_map<ino_t, const struct stat*> seen_before_by_ino_;  // made when first needed
  std::unordered_map<std::string, std::string> read_before_;
  // The snapshot's objects, by directory ("" the root) and name; and the current state's objects
  // that are known to be the snapshot's, as stat saw them when they were put there. They let the
  // next state be built in place: what the last one (or its checker) changed is put back.
  std::unordered_map<std::string, std::unordered_map<std::string, SnapEntry>> snap_;
  std::unordered_map<std::string, struct stat> clean_;
  uint64_t resets_ = 0;
  bool ctime_checked_ = false;
  bool ctime_fine_ = false;  // every change gets a new ctime (else: wait out the clock tick)
  Stats stats_;
};

}  // namespace faultfs::crash
