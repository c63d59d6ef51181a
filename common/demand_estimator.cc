#include "common/demand_estimator.h"

#include <algorithm>
#include <cmath>

namespace sluice {
namespace {

constexpr int64_t kMinIntervalNanos = 1000;  // 1 µs
constexpr int64_t kNanosPerMicro = 1000;

double Weight(int64_t interval, int64_t tau) {
  if (tau <= 0) return 1.0;
  return 1.0 -
         std::exp(-static_cast<double>(interval) / static_cast<double>(tau));
}

// Floor division: times may be negative in tests.
int64_t Micros(int64_t nanos) {
  const int64_t q = nanos / kNanosPerMicro;
  return q * kNanosPerMicro > nanos ? q - 1 : q;
}

uint32_t Stamp(int64_t micros) { return static_cast<uint32_t>(micros); }

}  // namespace

int64_t DemandEstimator::AgeMicros(int64_t now) const {
  return static_cast<int32_t>(Stamp(Micros(now)) - stamp_);
}

int64_t DemandEstimator::last_report(int64_t now) const {
  return (Micros(now) - AgeMicros(now)) * kNanosPerMicro;
}

void DemandEstimator::Age(int64_t then, int64_t now) {
  if (!has_report()) return;
  const int64_t age = AgeMicros(then) + (Micros(now) - Micros(then));
  if (age > kMaxAgeMicros) stamp_ = Stamp(Micros(now) - kMaxAgeMicros);
}

void DemandEstimator::Report(const DemandTiming& timing, int64_t now,
                             int64_t amount) {
  const double tokens = static_cast<double>(std::max<int64_t>(0, amount));
  if (!has_report()) {
    rate_ = static_cast<float>(tokens /
                               static_cast<double>(std::max(
                                   timing.first_window_ns, kMinIntervalNanos)));
    stamp_ = Stamp(Micros(now));
    return;
  }
  const int64_t age = AgeMicros(now);
  const int64_t interval = std::max(now - last_report(now), kMinIntervalNanos);
  const double x = tokens / static_cast<double>(interval);
  double rate = rate_;
  const int64_t tau = x > rate ? timing.rise_ns : timing.fall_ns;
  rate += Weight(interval, tau) * (x - rate);
  if (!(rate > 0) || !std::isfinite(rate)) rate = 0;
  rate_ = static_cast<float>(rate);
  if (age > 0) stamp_ = Stamp(Micros(now));
}

double DemandEstimator::Rate(const DemandTiming& timing, int64_t now,
                             int64_t grace_ns) const {
  if (!has_report()) return 0;
  const int64_t silent =
      now - last_report(now) - std::max<int64_t>(0, grace_ns);
  if (silent <= 0) return rate();
  return rate() * (1.0 - Weight(silent, timing.fall_ns));
}

}  // namespace sluice
