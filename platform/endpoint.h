// Parsing of listen addresses and ZeroMQ endpoints, and the loopback rule
// that decides whether an agent channel may run without CurveZMQ keys.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "127.0.0.1:8080", "localhost:80", "[::1]:9000", "0.0.0.0:8080".
// Refuses a missing host or port and a port outside 1..65535 (0 allowed
// only when allow_zero).
StatusOr<HostPort> ParseHostPort(std::string_view text,
                                 bool allow_zero = false);

// localhost, 127.0.0.0/8, ::1.
bool IsLoopbackHost(std::string_view host);

// True for inproc://, ipc:// and tcp:// on a loopback host.
bool IsLoopbackZmqEndpoint(std::string_view endpoint);

// The rule of the agent channel, for both daemons: without CurveZMQ keys
// it stays on the host (a loopback endpoint), unless `insecure` accepts
// clear text on a trusted network. OK when `have_keys`, when `endpoint` is
// loopback, or when `insecure`; otherwise FailedPrecondition naming `flag`
// (the flag holding the endpoint, "--agents") and the ways out,
// `keys_hint` first ("--curve-secret-key-file (a keypair from ...)").
Status CheckAgentChannel(std::string_view flag, std::string_view endpoint,
                         bool have_keys, bool insecure,
                         std::string_view keys_hint);

}  // namespace sluice
