#include "platform/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace sluice {
namespace {

int ThisThreadNice() {
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

// Each case runs on a thread of its own: the test's thread keeps its
// priority.
template <typename Body>
void OnAThread(Body body) {
  std::thread thread(body);
  thread.join();
}

TEST(ThreadPriorityTest, LowersOnlyTheCallingThreadAndItsNewThreads) {
  const int before = ThisThreadNice();
  OnAThread([before] {
    ASSERT_TRUE(LowerThisThreadPriority(5).ok());
    EXPECT_EQ(ThisThreadNice(), std::min(19, before + 5));
    int child = -100;
    std::thread([&child] { child = ThisThreadNice(); }).join();
    EXPECT_EQ(child, std::min(19, before + 5));  // inherited
  });
  EXPECT_EQ(ThisThreadNice(), before);
}

TEST(ThreadPriorityTest, StopsAtTheLowestPriority) {
  OnAThread([] {
    ASSERT_TRUE(LowerThisThreadPriority(39).ok());
    EXPECT_EQ(ThisThreadNice(), 19);
    ASSERT_TRUE(LowerThisThreadPriority(1).ok());
    EXPECT_EQ(ThisThreadNice(), 19);
  });
}

TEST(ThreadPriorityTest, ZeroChangesNothingAndOutOfRangeIsRefused) {
  OnAThread([] {
    const int before = ThisThreadNice();
    EXPECT_TRUE(LowerThisThreadPriority(0).ok());
    EXPECT_EQ(ThisThreadNice(), before);
    Status negative = LowerThisThreadPriority(-1);
    EXPECT_EQ(negative.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(negative.message().find("0 to 39"), std::string::npos);
    EXPECT_FALSE(LowerThisThreadPriority(40).ok());
    EXPECT_EQ(ThisThreadNice(), before);
  });
}

}  // namespace
}  // namespace sluice
