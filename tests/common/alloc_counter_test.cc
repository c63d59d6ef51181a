// Replaces the global operator new / delete of the common_tests binary with
// versions that count allocations per thread (see alloc_counter.h).
#include "tests/common/alloc_counter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

namespace {
thread_local int64_t t_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++t_allocations;
  if (size == 0) size = 1;
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sluice {
namespace testing_alloc {

int64_t ThreadAllocations() { return t_allocations; }

namespace {

TEST(AllocCounterTest, CountsAllocations) {
  int64_t before = ThreadAllocations();
  auto p = std::make_unique<std::string>(100, 'x');
  EXPECT_GE(ThreadAllocations() - before, 2);  // the string and its buffer
  before = ThreadAllocations();
  p->assign(50, 'y');  // fits the existing buffer
  EXPECT_EQ(ThreadAllocations() - before, 0);
}

}  // namespace
}  // namespace testing_alloc
}  // namespace sluice
