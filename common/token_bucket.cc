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

TokenBucketShape Sanitized(double capacity, double rate_per_nano) {
  return TokenBucketShape{std::max(capacity, 0.0),
                          std::max(rate_per_nano, 0.0)};
}

}  // namespace

// --- TokenBucketState ---

TokenBucketState::TokenBucketState(const TokenBucketShape& shape, int64_t now)
    : tokens_(shape.capacity), last_nanos_(now) {}

void TokenBucketState::Refill(const TokenBucketShape& shape, int64_t now) {
  if (now <= last_nanos_) return;  // invariant 3: time never runs backwards
  if (tokens_ < shape.capacity) {
    double elapsed = static_cast<double>(now - last_nanos_);
    tokens_ = std::min(shape.capacity, tokens_ + elapsed * shape.rate_per_nano);
  }
  last_nanos_ = now;
}

bool TokenBucketState::TryTake(const TokenBucketShape& shape, int64_t now,
                               double cost) {
  Refill(shape, now);
  if (!(cost > 0)) return true;
  if (tokens_ + kEpsilon < cost) return false;
  tokens_ -= cost;
  if (tokens_ < 0 && tokens_ > -kEpsilon) tokens_ = 0;
  return true;
}

void TokenBucketState::Debit(const TokenBucketShape& shape, int64_t now,
                             double amount) {
  Refill(shape, now);
  if (!(amount > 0)) return;
  tokens_ = std::max(tokens_ - amount, -shape.capacity);
}

double TokenBucketState::TakeUpTo(const TokenBucketShape& shape, int64_t now,
                                  double want) {
  Refill(shape, now);
  if (!(want >= 1)) return 0;
  double whole = std::floor(tokens_ + kEpsilon);
  double take = std::min(std::floor(want), whole);
  if (take <= 0) return 0;
  tokens_ -= take;
  if (tokens_ < 0) tokens_ = 0;  // only the epsilon can make it negative
  return take;
}

void TokenBucketState::Drain(const TokenBucketShape& shape, int64_t now,
                             double amount) {
  Refill(shape, now);
  if (tokens_ > 0 && amount > 0) tokens_ = std::max(0.0, tokens_ - amount);
}

double TokenBucketState::Available(const TokenBucketShape& shape, int64_t now) {
  Refill(shape, now);
  return tokens_;
}

int64_t TokenBucketState::NanosUntilAvailable(const TokenBucketShape& shape,
                                              int64_t now, double tokens) {
  Refill(shape, now);
  if (tokens <= tokens_ + kEpsilon) return 0;
  if (tokens > shape.capacity + kEpsilon || !(shape.rate_per_nano > 0)) {
    return -1;
  }
  return CeilNanos((tokens - tokens_) / shape.rate_per_nano);
}

int64_t TokenBucketState::NanosUntilFull(const TokenBucketShape& shape,
                                         int64_t now) {
  return NanosUntilAvailable(shape, now, shape.capacity);
}

void TokenBucketState::Reshape(const TokenBucketShape& from,
                               const TokenBucketShape& to, int64_t now) {
  Refill(from, now);
  const double capacity = std::max(to.capacity, 0.0);
  tokens_ = std::clamp(tokens_, -capacity, capacity);
}

// --- TokenBucket ---

TokenBucket::TokenBucket(double capacity, double rate_per_nano, int64_t now)
    : shape_(Sanitized(capacity, rate_per_nano)), state_(shape_, now) {}

void TokenBucket::Reconfigure(double capacity, double rate_per_nano,
                              int64_t now) {
  const TokenBucketShape to = Sanitized(capacity, rate_per_nano);
  state_.Reshape(shape_, to, now);
  shape_ = to;
}

}  // namespace sluice
