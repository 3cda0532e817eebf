// The builder of a History (history.cc: its bookkeeping and paths; history_ops.cc: the entry
// ops), shared by the two files that implement it.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "faultfs/crash/history.h"

namespace faultfs::crash {

struct EntryHash {
  size_t operator()(const EntryKey& e) const {
    return std::hash<std::string>()(e.name) * 31 + e.dir;
  }
};

// "record N (kind 'path' -> 'path2')", for errors.
std::string Described(const record::Op& op, size_t i);

// Builds a History op by op. In strict mode the first impossible op is an error; otherwise what
// is missing is taken to have existed from the start, and what is impossible is resolved as well
// as it can be.
class HistoryBuilder {
 public:
  explicit HistoryBuilder(bool strict) : strict_(strict) {
    h_.objects_.emplace_back();  // ObjectId 0: none
    names_.emplace_back();
    children_.push_back(0);
    NewObject(0, ObjectType::kDir, true);
  }

  void Size(size_t ops) {
    h_.ops_.assign(ops, OpObjects{});
    h_.needs_.assign(ops, {});
  }

  Status Start(const InodeNames& start);
  Status Apply(const record::Op& op, size_t i);
  History Take() &&;

 private:
  ObjectId NewObject(uint64_t ino, ObjectType type, bool initial);
  void Name(ObjectId obj, const EntryKey& e);
  void Unname(const EntryKey& e);
  ObjectId At(const EntryKey& e) const {
    const auto it = entries_.find(e);
    return it == entries_.end() ? kNoObject : it->second;
  }
  // The directory reached by the first `n` components of `parts`, noting the entries on the way.
  Result<ObjectId> Walk(const record::Op& op, size_t i, const std::vector<std::string>& parts,
                        size_t n, std::vector<EntryKey>* chain);
  Result<EntryKey> EntryOf(const record::Op& op, size_t i, const std::string& path,
                           std::vector<EntryKey>* chain);
  // The object at entry `e`, taken to have been there from the start when it is unknown (or an
  // error in strict mode).
  Result<ObjectId> Existing(const record::Op& op, size_t i, const EntryKey& e,
                            const std::string& path);
  Result<ObjectId> ObjectOf(const record::Op& op, size_t i);
  Status SameInode(const record::Op& op, size_t i, ObjectId obj);
  std::vector<EntryKey> ChainOf(ObjectId obj) const;
  std::vector<EntryKey> SourceChain(const record::Op& op, size_t i, ObjectId obj);
  bool IsWithin(ObjectId dir, ObjectId top) const;
  Status Create(const record::Op& op, size_t i);
  Status Link(const record::Op& op, size_t i);
  Status Remove(const record::Op& op, size_t i);
  Status Rename(const record::Op& op, size_t i);
  // Op i changes entry `e` (and so needs the last op that did).
  void Changes(size_t i, const EntryKey& e);
  // Op i reaches its source through the entries of `chain`.
  void Reaches(size_t i, const std::vector<EntryKey>& chain);
  // Op i removes directory `dir`: it needs every change to an entry in it.
  void Empties(size_t i, ObjectId dir);
  Status Bad(const record::Op& op, size_t i, const std::string& why) const {
    return Status::Invalid(Described(op, i) + ": " + why);
  }

  const bool strict_;
  History h_;
  std::unordered_map<EntryKey, ObjectId, EntryHash> entries_;
  std::vector<std::vector<EntryKey>> names_;       // by ObjectId: its current names
  std::vector<size_t> children_;                   // by ObjectId: entries in it now
  std::unordered_map<uint64_t, ObjectId> by_ino_;  // inode -> the object that has it now
  std::unordered_map<EntryKey, uint32_t, EntryHash> last_change_;
  std::unordered_map<ObjectId, std::vector<std::string>> changed_in_;  // names changed in a dir
};

}  // namespace faultfs::crash
