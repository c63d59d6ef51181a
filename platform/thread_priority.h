// Scheduling priority of the calling thread (Linux: a thread's nice value).
//
// The agent's decision path runs on one thread; its background work (the
// lease client and ZeroMQ's I/O thread) runs at a lower priority, so that
// on a busy host the scheduler gives the cores to the clients and to
// decisions first. Lowering a priority needs no privilege; threads created
// afterwards by the calling thread inherit it.
//
// Thread-safety: affects only the calling thread.
#pragma once

#include "common/status.h"

namespace sluice {

// Adds `steps` (0..39) to the calling thread's nice value, at most 19 (the
// lowest priority). 0 changes nothing. Fails with the reason, leaving the
// priority as it was.
Status LowerThisThreadPriority(int steps);

}  // namespace sluice
