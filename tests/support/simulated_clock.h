// SimulatedClock: a Clock (common/clock.h) that moves only when a test moves
// it, readable from any thread. For code under test that runs threads of
// its own (the agent's event loop, the lease client's thread), where
// common's ManualClock, meant for one thread, would race.
//
// The model is Envoy's simulated time: the code under test takes its time
// from the Clock it is given, so a test decides when a timeout has passed
// instead of sleeping until it has, and a busy machine cannot make a
// deadline pass early or late. What still runs on wall time (socket I/O,
// an Asio timer's wake-up, a ZeroMQ poll) only decides how soon the code
// notices; tests bound those waits generously (AdvanceUntil, Eventually).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "common/clock.h"

namespace sluice::testing {

class SimulatedClock final : public Clock {
 public:
  // Not 0: code may treat time 0 as "never".
  static constexpr int64_t kStart = 1000 * kNanosPerSecond;

  explicit SimulatedClock(int64_t start_nanos = kStart) : now_(start_nanos) {}

  int64_t NowNanos() const override { return now_.load(); }
  void AdvanceMillis(int64_t millis) { now_ += millis * kNanosPerMilli; }

 private:
  std::atomic<int64_t> now_;
};

// Moves `clock` forward by `step_ms` at a time, giving the code under test
// `pause` of wall time after each step, until `condition` holds (true) or
// `wall_timeout` passes (false). For conditions that need simulated time
// to pass repeatedly (heartbeats every step) while other threads react.
template <typename Condition>
bool AdvanceUntil(
    SimulatedClock* clock, int64_t step_ms, Condition condition,
    std::chrono::milliseconds wall_timeout = std::chrono::milliseconds(10000),
    std::chrono::milliseconds pause = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + wall_timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    clock->AdvanceMillis(step_ms);
    std::this_thread::sleep_for(pause);
  }
  return true;
}

}  // namespace sluice::testing
