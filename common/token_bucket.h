// TokenBucket: a bucket of `capacity` tokens refilled continuously at
// `rate` tokens per nanosecond, with the time passed in by the caller.
//
// Invariants:
//   1. tokens <= capacity, always (also after Reconfigure).
//   2. tokens >= -capacity: Debit() may put the bucket into debt (tokens
//      spent elsewhere that must be paid back by refill), never deeper.
//   3. last_nanos never decreases: a `now` earlier than the last one seen is
//      treated as the last one (time going backwards neither refills nor
//      drains the bucket).
//
// Tokens are doubles: exact for integer counts up to 2^53, which bounds
// limit and burst (see rule_json.h). Refill is computed in floating point,
// so amounts within 1e-6 of what is asked count as available.
//
// Thread-compatible: callers synchronise.
#pragma once

#include <cstdint>

namespace sluice {

class TokenBucket {
 public:
  TokenBucket() = default;
  // A full bucket (tokens == capacity) at time `now`.
  TokenBucket(double capacity, double rate_per_nano, int64_t now);

  // Takes `cost` tokens if that many are available at `now`; else takes
  // nothing. cost == 0 always succeeds and takes nothing.
  bool TryTake(int64_t now, double cost);

  // Takes `amount` tokens unconditionally, down to -capacity at most.
  void Debit(int64_t now, double amount);

  // Takes up to `want` whole tokens (floor of what is available, never
  // negative) and returns how many were taken.
  double TakeUpTo(int64_t now, double want);

  // Tokens available at `now` (may be negative while in debt).
  double Available(int64_t now);

  // Nanoseconds from `now` until `tokens` are available; 0 if they already
  // are; -1 if never (tokens > capacity, or the rate is zero).
  int64_t NanosUntilAvailable(int64_t now, double tokens);

  // Nanoseconds from `now` until the bucket is full again; 0 if it is; -1
  // if never (the rate is zero).
  int64_t NanosUntilFull(int64_t now);

  // Changes capacity and rate, keeping the current tokens (clamped to the
  // new capacity). Used when a rule's limit changes.
  void Reconfigure(double capacity, double rate_per_nano, int64_t now);

  double capacity() const { return capacity_; }
  double rate_per_nano() const { return rate_; }

 private:
  void Refill(int64_t now);

  double capacity_ = 0;
  double rate_ = 0;
  double tokens_ = 0;
  int64_t last_nanos_ = 0;
};

}  // namespace sluice
