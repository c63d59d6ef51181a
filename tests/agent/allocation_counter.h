// Counts heap allocations made by the current thread, so tests can check
// that a hot path allocates nothing. The agent_tests binary replaces the
// global operator new (allocation_counter.cc) to count; everything else
// behaves as usual.
#pragma once

#include <cstdint>

namespace sluice::testing {

// Allocations (operator new, any form that reaches it) by this thread
// since it started.
int64_t ThreadAllocations();

}  // namespace sluice::testing
