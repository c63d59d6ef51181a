// The process's limit on open file descriptors (RLIMIT_NOFILE), which caps
// how many connections a daemon can hold: every connection is one.
// Daemons call RaiseFileLimit() at start (the soft limit up to the hard
// one, which only root can raise) and size their connection caps with
// ConnectionsWithin().
//
// Thread-safe (setrlimit is process-wide: call it once, at start).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace sluice {

struct FileLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t soft = 0;    // the soft limit now
  uint64_t hard = 0;
};

// Raises the soft limit to the hard limit. Internal when either call fails.
StatusOr<FileLimit> RaiseFileLimit();

// How many connections fit under a soft limit of `soft` descriptors when
// `reserve` stay for everything else (database, ZeroMQ, files, metrics):
// `wanted`, or fewer (at least 1).
size_t ConnectionsWithin(uint64_t soft, size_t wanted, size_t reserve);

}  // namespace sluice
