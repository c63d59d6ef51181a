#include "platform/wake_fd.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

namespace sluice {
namespace {

bool Readable(const WakeFd& wake, int timeout_ms) {
  pollfd item{wake.fd(), POLLIN, 0};
  return poll(&item, 1, timeout_ms) == 1 && (item.revents & POLLIN) != 0;
}

TEST(WakeFdTest, ASignalWakesAPollUntilDrained) {
  WakeFd wake;
  ASSERT_TRUE(wake.ok());
  EXPECT_FALSE(Readable(wake, 0));
  wake.Signal();
  wake.Signal();  // several signals: one wake-up
  EXPECT_TRUE(Readable(wake, 0));
  wake.Drain();
  EXPECT_FALSE(Readable(wake, 0));
  wake.Drain();  // nothing to drain: no harm, no block
  EXPECT_FALSE(Readable(wake, 0));
}

TEST(WakeFdTest, AnotherThreadWakesASleepingPoll) {
  WakeFd wake;
  std::thread signaller([&] { wake.Signal(); });
  EXPECT_TRUE(Readable(wake, 10'000));  // returns at the signal
  signaller.join();
}

}  // namespace
}  // namespace sluice
