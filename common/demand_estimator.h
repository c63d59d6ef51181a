// DemandEstimator: the controller's estimate of one agent's demand for one
// bucket, in tokens per nanosecond, from what the agent reports with each
// lease request (tokens admitted + refused since its previous report).
//
// The estimate is an exponentially weighted moving average of the rate over
// each report interval x = amount / interval, weighted by the length of the
// interval: rate += (1 - exp(-interval / tau)) * (x - rate). A rising demand
// is followed with a short time constant (`rise_ns`), a falling one with a
// longer one (`fall_ns`): over-estimating an agent only reserves it a share
// it does not claim (that share flows back to the pool, see
// common/allocator.h), while under-estimating it refuses its clients.
//
// The first report's interval is unknown (the agent's bucket may be a few
// milliseconds old): it is taken as `first_window_ns` and becomes the
// estimate as is; later reports follow quickly because of `rise_ns`.
//
// An agent that stops asking may have stopped needing tokens, or may simply
// hold enough. Rate(now, grace) therefore trusts the estimate for `grace`
// after the last report and then decays it with `fall_ns`: silence is read
// as "no demand" only once the agent should have asked again.
//
// MEMORY. The controller keeps one estimator per agent of every live
// bucket, so it is 8 bytes: the rate as a float (a relative error of 1e-7,
// far below the noise of any estimate) and the time of the last report as
// the low 32 bits of its microsecond. That stamp is read relative to `now`,
// which is unambiguous while the report is less than kMaxAge old; Age()
// keeps it so: an older report is moved to exactly kMaxAge ago, where its
// estimate has long decayed to nothing (fall_ns is a fraction of a
// second), so nothing the estimator answers changes.
//
// Invariant: rate() >= 0 and finite.
//
// Thread-compatible.
#pragma once

#include <cstdint>

namespace sluice {

struct DemandTiming {
  int64_t rise_ns = 100'000'000;          // time constant when demand rises
  int64_t fall_ns = 300'000'000;          // ... when it falls, and for decay
  int64_t first_window_ns = 100'000'000;  // assumed length of the 1st window
};

class DemandEstimator {
 public:
  // Reports older than this are kept as this old (about 18 minutes).
  static constexpr int64_t kMaxAgeMicros = int64_t{1} << 30;

  DemandEstimator() = default;

  // `amount` tokens (>= 0; negative counts as 0) demanded since the
  // previous report. A `now` earlier than the previous report counts as an
  // interval of one microsecond.
  void Report(const DemandTiming& timing, int64_t now, int64_t amount);

  // The estimate at `now`: rate() until `grace_ns` after the last report,
  // then decaying with timing.fall_ns. 0 before any report.
  double Rate(const DemandTiming& timing, int64_t now, int64_t grace_ns) const;

  // Must be called at least every kMaxAgeMicros, with the `now` of the
  // previous call (or of the last report, if later) as `then` and
  // then <= now: a report more than kMaxAgeMicros old by `now` is moved to
  // kMaxAgeMicros before it.
  void Age(int64_t then, int64_t now);

  double rate() const { return rate_ > 0 ? rate_ : 0; }  // as of last report
  bool has_report() const { return rate_ >= 0; }
  // The time of the last report, to the microsecond below (as last seen by
  // Age; `now` must not be earlier than the last report by more than
  // kMaxAgeMicros). Meaningless before any report.
  int64_t last_report(int64_t now) const;

 private:
  // Microseconds from the last report to `now` (negative: `now` is
  // earlier).
  int64_t AgeMicros(int64_t now) const;

  float rate_ = -1;     // tokens per nanosecond; < 0: never reported
  uint32_t stamp_ = 0;  // low 32 bits of the last report's microsecond
};

}  // namespace sluice
