#include "common/demand_estimator.h"

#include <algorithm>
#include <cmath>

namespace sluice {
namespace {

constexpr int64_t kMinIntervalNanos = 1000;  // 1 µs

double Weight(int64_t interval, int64_t tau) {
  if (tau <= 0) return 1.0;
  return 1.0 -
         std::exp(-static_cast<double>(interval) / static_cast<double>(tau));
}

}  // namespace

void DemandEstimator::Report(const DemandTiming& timing, int64_t now,
                             int64_t amount) {
  const double tokens = static_cast<double>(std::max<int64_t>(0, amount));
  if (last_report_ < 0) {
    rate_ = tokens / static_cast<double>(
                         std::max(timing.first_window_ns, kMinIntervalNanos));
    last_report_ = now;
    return;
  }
  const int64_t interval = std::max(now - last_report_, kMinIntervalNanos);
  const double x = tokens / static_cast<double>(interval);
  const int64_t tau = x > rate_ ? timing.rise_ns : timing.fall_ns;
  rate_ += Weight(interval, tau) * (x - rate_);
  if (!(rate_ > 0) || !std::isfinite(rate_)) rate_ = 0;
  last_report_ = std::max(last_report_, now);
}

double DemandEstimator::Rate(const DemandTiming& timing, int64_t now,
                             int64_t grace_ns) const {
  if (last_report_ < 0) return 0;
  const int64_t silent = now - last_report_ - std::max<int64_t>(0, grace_ns);
  if (silent <= 0) return rate_;
  return rate_ * (1.0 - Weight(silent, timing.fall_ns));
}

}  // namespace sluice
