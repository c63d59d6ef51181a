#include "platform/http/pace.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr int64_t kGrace = 10000;
constexpr int64_t kRate = 4096;  // bytes a second

TEST(PaceTest, ABodyGetsTheGraceThenTimeForWhatItSent) {
  // Nothing yet: the grace from the start.
  EXPECT_EQ(BodyDeadlineMs(1000, 0, 1000, kGrace, kRate), 11000);
  // 8 KiB in: two seconds more, counted from the start.
  EXPECT_EQ(BodyDeadlineMs(1000, 8192, 3000, kGrace, kRate), 13000);
}

TEST(PaceTest, ABodyThatStallsIsCutOffAfterTheGraceHoweverFastItBegan) {
  // 1 MiB in the first second would earn 256 s; a stall still ends at
  // now + grace.
  EXPECT_EQ(BodyDeadlineMs(0, 1 << 20, 1000, kGrace, kRate), 11000);
}

TEST(PaceTest, ATooSlowBodyHasADeadlineInThePast) {
  // 100 bytes in 60 s: at 4 KiB/s after a 10 s grace it is late.
  EXPECT_LT(BodyDeadlineMs(0, 100, 60000, kGrace, kRate), 60000);
}

TEST(PaceTest, AResponseGetsTheGraceAndTimeForItsSize) {
  EXPECT_EQ(WriteDeadlineMs(500, 0, kGrace, kRate), 10500);
  EXPECT_EQ(WriteDeadlineMs(500, 40960, kGrace, kRate), 20500);
}

}  // namespace
}  // namespace sluice
