// Counts heap allocations made by this thread, to test code that promises
// not to allocate. The global operator new of common_tests is replaced in
// alloc_counter_test.cc.
#pragma once

#include <cstdint>

namespace sluice {
namespace testing_alloc {

// Allocations made by the calling thread since it started.
int64_t ThreadAllocations();

}  // namespace testing_alloc
}  // namespace sluice
