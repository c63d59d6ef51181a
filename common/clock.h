// Clock: where the core gets time from. The core never reads a clock itself;
// time is passed in as nanoseconds, or read through an injected Clock.
//
// Times are monotonic nanoseconds with an arbitrary epoch; only differences
// mean anything. SystemClock (platform/system_clock.h) reads
// std::chrono::steady_clock; ManualClock is for tests.
//
// Thread-safety: implementations must allow concurrent NowNanos() calls.
// ManualClock's setters must not race with readers (tests drive it from one
// thread).
#pragma once

#include <cstdint>

namespace sluice {

constexpr int64_t kNanosPerMilli = 1000 * 1000;
constexpr int64_t kNanosPerSecond = 1000 * kNanosPerMilli;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;
};

// A clock that moves only when told to. It may be moved backwards, to test
// code that must survive a clock that jumps.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_nanos = 0) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_; }
  void Set(int64_t nanos) { now_ = nanos; }
  void Advance(int64_t nanos) { now_ += nanos; }
  void AdvanceMillis(int64_t millis) { now_ += millis * kNanosPerMilli; }

 private:
  int64_t now_;
};

}  // namespace sluice
