#include "platform/file_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace sluice {
namespace {

TEST(FileLimitTest, RaisesTheSoftLimitToTheHardOne) {
  StatusOr<FileLimit> raised = RaiseFileLimit();
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(raised->soft, now.rlim_cur);
  EXPECT_EQ(raised->hard, now.rlim_max);
  EXPECT_GE(raised->soft, raised->before);
  if (now.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, now.rlim_max);
  }
}

TEST(FileLimitTest, ConnectionsFitUnderTheLimitLessTheReserve) {
  EXPECT_EQ(ConnectionsWithin(20000, 4096, 256), 4096u);
  EXPECT_EQ(ConnectionsWithin(1024, 4096, 256), 768u);
  EXPECT_EQ(ConnectionsWithin(100, 4096, 256), 1u);
}

}  // namespace
}  // namespace sluice
