// platform/mutex.h: the locks exclude each other and CondVar waits, wakes
// and times out. That the analysis sees them is shown by
// thread_safety_misuse.cc (ctest thread_safety_analysis).
#include "platform/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace sluice {
namespace {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    const int64_t seen = count_;
    std::this_thread::yield();  // widen the window a missing lock leaves
    count_ = seen + 1;
  }
  int64_t count() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return count_;
  }

 private:
  Mutex mu_;
  int64_t count_ GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 2000; ++i) counter.Add();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.count(), 8000);
}

TEST(MutexTest, ReadersShareWritersExclude) {
  SharedMutex mu;
  {
    ReaderMutexLock first(&mu);
    // A second reader gets in while the first holds it (on another
    // thread: the analysis, rightly, would not let one thread take it
    // twice).
    std::thread reader([&mu] { ReaderMutexLock second(&mu); });
    reader.join();
  }
  int64_t value = 0;  // written under the writer lock only
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&mu, &value] {
      for (int i = 0; i < 2000; ++i) {
        WriterMutexLock lock(&mu);
        const int64_t seen = value;
        std::this_thread::yield();
        value = seen + 1;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ReaderMutexLock lock(&mu);
  EXPECT_EQ(value, 8000);
}

class Flag {
 public:
  void Set() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    set_ = true;
    cv_.NotifyAll();
  }
  // True once Set() was called; false if `timeout` passed first.
  bool WaitFor(std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (!set_) {
      if (!cv_.WaitUntil(&mu_, deadline)) return set_;
    }
    return true;
  }
  void WaitForever() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!set_) cv_.Wait(&mu_);
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool set_ GUARDED_BY(mu_) = false;
};

TEST(CondVarTest, WaitUntilTimesOutWithoutNotification) {
  Flag flag;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(flag.WaitFor(std::chrono::milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(20));
}

TEST(CondVarTest, NotificationWakesWaiters) {
  Flag flag;
  bool woke = false;
  std::thread waiter(
      [&flag, &woke] { woke = flag.WaitFor(std::chrono::minutes(5)); });
  std::thread forever([&flag] { flag.WaitForever(); });
  flag.Set();
  waiter.join();
  forever.join();
  EXPECT_TRUE(woke);
}

}  // namespace
}  // namespace sluice
