// SystemClock: the real clock, std::chrono::steady_clock in nanoseconds.
//
// Thread-safe.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace sluice {

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // One process-wide instance.
  static const SystemClock& Get() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace sluice
