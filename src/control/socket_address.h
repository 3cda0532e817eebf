// The address of a control socket, for the server that binds it and the clients that connect.
#pragma once

#include <sys/un.h>

#include <string>

#include "faultfs/core/status.h"

namespace faultfs::control {

Result<sockaddr_un> SocketAddress(const std::string& path);

}  // namespace faultfs::control
