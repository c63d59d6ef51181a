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
// TokenBucketState is the same bucket without its shape (capacity and
// rate): 16 bytes of state, with the shape passed in to every call. It is
// for owners that hold many buckets whose shape they can derive (the
// agent's LocalBucket derives it from the rule). TokenBucket is a shape
// plus a state; both follow the same maths and invariants.
//
// Thread-compatible: callers synchronise.
#pragma once

#include <cstdint>

namespace sluice {

// How big a bucket is and how fast it refills.
struct TokenBucketShape {
  double capacity = 0;       // tokens, >= 0
  double rate_per_nano = 0;  // tokens per nanosecond, >= 0
};

// The state of a token bucket whose shape the caller passes in. Every call
// must pass the shape the state was last built or reshaped with; changing
// the shape goes through Reshape(). Methods mean what TokenBucket's do.
class TokenBucketState {
 public:
  // An empty bucket (0 tokens) at time 0.
  TokenBucketState() = default;
  // A full bucket (tokens == shape.capacity) at time `now`.
  TokenBucketState(const TokenBucketShape& shape, int64_t now);

  bool TryTake(const TokenBucketShape& shape, int64_t now, double cost);
  void Debit(const TokenBucketShape& shape, int64_t now, double amount);
  double TakeUpTo(const TokenBucketShape& shape, int64_t now, double want);
  // Takes up to `amount` (fractions too), never below zero; a debt stays
  // as it is.
  void Drain(const TokenBucketShape& shape, int64_t now, double amount);
  double Available(const TokenBucketShape& shape, int64_t now);
  int64_t NanosUntilAvailable(const TokenBucketShape& shape, int64_t now,
                              double tokens);
  int64_t NanosUntilFull(const TokenBucketShape& shape, int64_t now);
  // Refills under shape `from` up to `now`, then keeps the tokens, clamped
  // to +-to.capacity: the state now belongs to shape `to`.
  void Reshape(const TokenBucketShape& from, const TokenBucketShape& to,
               int64_t now);

 private:
  void Refill(const TokenBucketShape& shape, int64_t now);

  double tokens_ = 0;
  int64_t last_nanos_ = 0;
};

class TokenBucket {
 public:
  TokenBucket() = default;
  // A full bucket (tokens == capacity) at time `now`.
  TokenBucket(double capacity, double rate_per_nano, int64_t now);

  // Takes `cost` tokens if that many are available at `now`; else takes
  // nothing. cost == 0 always succeeds and takes nothing.
  bool TryTake(int64_t now, double cost) {
    return state_.TryTake(shape_, now, cost);
  }

  // Takes `amount` tokens unconditionally, down to -capacity at most.
  void Debit(int64_t now, double amount) { state_.Debit(shape_, now, amount); }

  // Takes up to `want` whole tokens (floor of what is available, never
  // negative) and returns how many were taken.
  double TakeUpTo(int64_t now, double want) {
    return state_.TakeUpTo(shape_, now, want);
  }

  // Tokens available at `now` (may be negative while in debt).
  double Available(int64_t now) { return state_.Available(shape_, now); }

  // Nanoseconds from `now` until `tokens` are available; 0 if they already
  // are; -1 if never (tokens > capacity, or the rate is zero).
  int64_t NanosUntilAvailable(int64_t now, double tokens) {
    return state_.NanosUntilAvailable(shape_, now, tokens);
  }

  // Nanoseconds from `now` until the bucket is full again; 0 if it is; -1
  // if never (the rate is zero).
  int64_t NanosUntilFull(int64_t now) {
    return state_.NanosUntilFull(shape_, now);
  }

  // Changes capacity and rate, keeping the current tokens (clamped to the
  // new capacity). Used when a rule's limit changes.
  void Reconfigure(double capacity, double rate_per_nano, int64_t now);

  double capacity() const { return shape_.capacity; }
  double rate_per_nano() const { return shape_.rate_per_nano; }

 private:
  TokenBucketShape shape_;
  TokenBucketState state_;
};

}  // namespace sluice
