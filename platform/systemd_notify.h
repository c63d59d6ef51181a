// NotifySystemd: tells the service manager about the daemon's state, the
// sd_notify(3) protocol without libsystemd. The units in deploy/packaging/
// are Type=notify: systemd counts a daemon as started when it sends
// "READY=1", not when its process exists.
//
// The manager passes the address of a Unix datagram socket in NOTIFY_SOCKET
// (a path, or "@name" for the abstract namespace); each call sends one
// datagram such as "READY=1" or "STOPPING=1" to it. Without NOTIFY_SOCKET
// (not run by systemd) it does nothing and returns OK.
//
// Thread-safe (reads the environment; no shared state).
#pragma once

#include <string>

#include "common/status.h"

namespace sluice {

// Sends `state` ("READY=1", ...) to $NOTIFY_SOCKET. Unavailable when the
// socket is set but cannot be reached (the caller logs it and goes on).
Status NotifySystemd(const std::string& state);

}  // namespace sluice
