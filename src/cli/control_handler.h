// What control commands do to a live mount: the bridge between the control socket (which knows
// the engine but not FUSE) and the mount.
#pragma once

#include "faultfs/control/server.h"
#include "faultfs/fs/mount.h"

namespace faultfs::cli {

class MountControl : public control::Handler {
 public:
  MountControl(Mount& mount, std::string mountpoint)
      : mount_(mount), mountpoint_(std::move(mountpoint)) {}
  Result<nlohmann::json> Handle(const control::Command& command) override;
  void SubscribeEvents(std::function<bool(const std::string&)> sink) override;

 private:
  struct Commands;  // one handler per command (control_handler.cc)
  Mount& mount_;
  std::string mountpoint_;
};

}  // namespace faultfs::cli
