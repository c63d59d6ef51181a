#include "tests/agent/allocation_counter.h"

#include <cstdlib>
#include <new>

namespace {
thread_local int64_t g_allocations = 0;
}  // namespace

namespace sluice::testing {
int64_t ThreadAllocations() { return g_allocations; }
}  // namespace sluice::testing

// libstdc++ routes new[] and the matching deletes through these. The
// nothrow form is replaced too: a sanitizer runtime provides its own, which
// would not pair with the delete below.
void* operator new(std::size_t size) {
  ++g_allocations;
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
