// Ports for servers that bind later: a harness picks a node's ports, then starts (and restarts)
// the node process, which binds them. Between the two, a port taken from the kernel's ephemeral
// range may be handed to any outgoing connection (a client's, a proxy's, another test's) or to
// any bind to port 0, and the node cannot start until that connection closes.
#pragma once

#include <cstdint>
#include <set>

#include "faultfs/core/status.h"

namespace faultfs {

// A TCP port on 127.0.0.1 that is free now and lies outside the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), so that nothing but an explicit bind can take it.
// Random, so that runs side by side pick different ones; never one of `taken`, which gets it.
Result<uint16_t> PortForLater(std::set<uint16_t>& taken);

}  // namespace faultfs
