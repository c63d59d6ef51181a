#include "common/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sluice {
namespace {

// Refill is computed in floating point, so a bucket that should hold exactly
// N tokens may hold N - 1e-12. Amounts within kEpsilon of what is needed
// count as available.
constexpr double kEpsilon = 1e-6;

int64_t CeilNanos(double nanos) {
  double c = std::ceil(nanos);
  if (c >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return c < 0 ? 0 : static_cast<int64_t>(c);
}

}  // namespace

TokenBucket::TokenBucket(double capacity, double rate_per_nano, int64_t now)
    : capacity_(std::max(capacity, 0.0)),
      rate_(std::max(rate_per_nano, 0.0)),
      tokens_(capacity_),
      last_nanos_(now) {}

void TokenBucket::Refill(int64_t now) {
  if (now <= last_nanos_) return;  // invariant 3: time never runs backwards
  if (tokens_ < capacity_) {
    double elapsed = static_cast<double>(now - last_nanos_);
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
  }
  last_nanos_ = now;
}

bool TokenBucket::TryTake(int64_t now, double cost) {
  Refill(now);
  if (!(cost > 0)) return true;
  if (tokens_ + kEpsilon < cost) return false;
  tokens_ -= cost;
  if (tokens_ < 0 && tokens_ > -kEpsilon) tokens_ = 0;
  return true;
}

void TokenBucket::Debit(int64_t now, double amount) {
  Refill(now);
  if (!(amount > 0)) return;
  tokens_ = std::max(tokens_ - amount, -capacity_);
}

double TokenBucket::TakeUpTo(int64_t now, double want) {
  Refill(now);
  if (!(want >= 1)) return 0;
  double whole = std::floor(tokens_ + kEpsilon);
  double take = std::min(std::floor(want), whole);
  if (take <= 0) return 0;
  tokens_ -= take;
  if (tokens_ < 0) tokens_ = 0;  // only the epsilon can make it negative
  return take;
}

double TokenBucket::Available(int64_t now) {
  Refill(now);
  return tokens_;
}

int64_t TokenBucket::NanosUntilAvailable(int64_t now, double tokens) {
  Refill(now);
  if (tokens <= tokens_ + kEpsilon) return 0;
  if (tokens > capacity_ + kEpsilon || !(rate_ > 0)) return -1;
  return CeilNanos((tokens - tokens_) / rate_);
}

int64_t TokenBucket::NanosUntilFull(int64_t now) {
  return NanosUntilAvailable(now, capacity_);
}

void TokenBucket::Reconfigure(double capacity, double rate_per_nano,
                              int64_t now) {
  Refill(now);
  capacity_ = std::max(capacity, 0.0);
  rate_ = std::max(rate_per_nano, 0.0);
  tokens_ = std::clamp(tokens_, -capacity_, capacity_);
}

}  // namespace sluice
