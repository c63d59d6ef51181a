// Names for the lease server's log lines: an agent's routing id, a wire
// message's type. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/wire.h"

namespace sluice {

// A routing id as is when printable (LeaseClient's are "agent-id/random"),
// else in hex (ZeroMQ's generated ones).
std::string PeerName(std::string_view id);
// "Hello", "LeaseRequest", ...
const char* WireTypeName(const WireMessage& message);

}  // namespace sluice
