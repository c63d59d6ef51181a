// The retry promise of one agent (docs/leasing.md, "Retry after") on a fake
// clock: the script of tests/integration/retry_test.cc's one-agent test
// (limit 10/s, burst 10; three trials of 15 rapid checks, then one check
// after a full refill of 1.1 s), played against the real LocalBucket and
// BucketAllocator, with the agent's lease timing (a request leaves 20 ms
// after the check that needs it, a sweep every 100 ms) and a link whose
// delay and the clients' pace vary over a table: the delays a loaded host
// gives the real processes. Every burst admits what the budget holds, the
// check after a refill is admitted, and no second admits more than the
// limit allows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/allocator.h"
#include "common/clock.h"
#include "common/local_bucket.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;
constexpr int64_t kUs = kNanosPerMilli / 1000;
constexpr int64_t kStep = 50 * kUs;         // the simulation's tick
constexpr int64_t kFlushDelay = 20 * kMs;   // AgentOptions::flush_delay_ms
constexpr int64_t kSweepEvery = 100 * kMs;  // AgentOptions::sweep_interval_ms
constexpr int64_t kStamp = 100 * kUs;       // MarkRequested to the send stamp
constexpr int kTrials = 3, kBurst = 15;

struct Link {
  int64_t one_way;  // agent <-> controller
  int64_t spacing;  // between a client's checks in a burst
  int64_t sweep_phase;
};

struct Outcome {
  int burst_admitted[kTrials] = {};
  bool after_admitted[kTrials] = {};
  std::vector<int64_t> admitted_at;
};

struct Message {
  int64_t at;
  bool to_controller;
  int64_t sent_at;
  LeaseReport report;
  LeaseOffer offer;
};

class OneAgentScript {
 public:
  explicit OneAgentScript(const Link& link)
      : link_(link),
        rule_(testing_rules::MakeRule(1, "retry", {{"route", "/retry"}}, 10,
                                      1000, 10)),
        allocator_(rule_, 0, &options_) {
    int64_t t = 100 * kMs;
    for (int trial = 0; trial < kTrials; ++trial) {
      if (trial > 0) t += 1100 * kMs;
      for (int i = 0; i < kBurst; ++i, t += link.spacing) checks_.push_back(t);
      t += 1100 * kMs;
      checks_.push_back(t);
      t += link.spacing;
    }
    end_ = t + 500 * kMs;
  }

  Outcome Run() {
    Outcome out;
    size_t next = 0;
    int64_t next_sweep = link_.sweep_phase;
    for (int64_t now = 0; now < end_; now += kStep) {
      Deliver(now);
      for (; next < checks_.size() && checks_[next] <= now; ++next) {
        const bool admitted = Check(now);
        const int trial = static_cast<int>(next) / (kBurst + 1);
        if (static_cast<int>(next) % (kBurst + 1) == kBurst) {
          out.after_admitted[trial] = admitted;
        } else if (admitted) {
          ++out.burst_admitted[trial];
        }
        if (admitted) out.admitted_at.push_back(now);
      }
      if (flush_at_ >= 0 && now >= flush_at_) {
        flush_at_ = -1;
        Send(now, /*sweep=*/false);
      }
      if (now >= next_sweep) {
        next_sweep += kSweepEvery;
        Sweep(now);
      }
    }
    return out;
  }

 private:
  bool Check(int64_t now) {
    if (bucket_ == nullptr) {
      bucket_ = std::make_unique<LocalBucket>(rule_, now, ctx_);
    }
    Decision d;
    const bool admitted = bucket_->CanTake(rule_, now, 1, ctx_, &d);
    if (admitted) {
      bucket_->Take(rule_, now, 1, ctx_, &d);
    } else {
      bucket_->Refuse(rule_, now, 1, ctx_, &d);
    }
    int64_t want = 0;
    if (flush_at_ < 0 &&
        bucket_->NeedsLease(rule_, now, timing_, ctx_, &want)) {
      flush_at_ = now + kFlushDelay;
    }
    return admitted;
  }

  // As Checker::Sweep: pending requests first, then eviction or a report.
  void Sweep(int64_t now) {
    if (flush_at_ >= 0) {
      flush_at_ = -1;
      Send(now, /*sweep=*/false);
    }
    if (bucket_ == nullptr) return;
    if (bucket_->Idle(rule_, now, timing_)) {
      bucket_.reset();
    } else if (bucket_->ReportMoot(rule_, now, timing_, ctx_)) {
      int64_t admitted, refused, unleased;
      bucket_->MarkReported(now, &admitted, &refused, &unleased);
      bucket_.reset();
    } else {
      Send(now, /*sweep=*/true);
    }
  }

  void Send(int64_t now, bool sweep) {
    int64_t want = 0;
    if (bucket_ == nullptr ||
        !(sweep ? bucket_->NeedsSweepLease(rule_, now, timing_, ctx_, &want)
                : bucket_->NeedsLease(rule_, now, timing_, ctx_, &want))) {
      return;
    }
    Message m{};
    m.to_controller = true;
    m.sent_at = now + kStamp;
    m.at = m.sent_at + link_.one_way;
    m.report.want = want;
    LeaseReport& r = m.report;
    if (want > 0) {
      bucket_->MarkRequested(now, &r.admitted, &r.refused, &r.unleased);
    } else {
      bucket_->MarkReported(now, &r.admitted, &r.refused, &r.unleased);
    }
    Push(m);
  }

  // Messages in order of arrival (ties: in order sent).
  void Push(const Message& m) {
    queue_.insert(std::upper_bound(queue_.begin(), queue_.end(), m,
                                   [](const Message& a, const Message& b) {
                                     return a.at < b.at;
                                   }),
                  m);
  }

  void Deliver(int64_t now) {
    while (!queue_.empty() && queue_.front().at <= now) {
      Message m = queue_.front();
      queue_.pop_front();
      if (!m.to_controller) {
        if (bucket_ != nullptr) {
          bucket_->ApplyGrant(rule_, m.sent_at, m.offer.tokens, m.offer.ttl_ns,
                              now, ctx_);
        }
      } else if (m.report.want <= 0) {
        allocator_.Report(0, now, m.report);
      } else {
        m.offer = allocator_.Grant(0, now, m.report);
        m.to_controller = false;
        m.at = now + link_.one_way;
        Push(m);
      }
    }
  }

  const Link link_;
  const Rule rule_;
  AllocatorOptions options_;
  BucketAllocator allocator_;
  const LeaseContext ctx_{true, 1};
  const LeaseTiming timing_;
  std::unique_ptr<LocalBucket> bucket_;
  int64_t flush_at_ = -1;
  std::deque<Message> queue_;
  std::vector<int64_t> checks_;
  int64_t end_ = 0;
};

// The most admitted in any window of `width` starting at an admission.
int64_t MaxWindow(const std::vector<int64_t>& at, int64_t width) {
  int64_t best = 0;
  for (size_t i = 0, j = 0; i < at.size(); ++i) {
    while (j < at.size() && at[j] < at[i] + width) ++j;
    best = std::max<int64_t>(best, static_cast<int64_t>(j - i));
  }
  return best;
}

// Delays up to 50 ms each way (a Debug controller on a loaded host), and
// clients up to 10 ms apart (a burst spread over 150 ms).
TEST(RetryScenarioTest, OneAgentAdmitsWhatTheBudgetHolds) {
  int runs = 0;
  for (int64_t one_way : {100 * kUs, kMs, 5 * kMs, 20 * kMs, 50 * kMs}) {
    for (int64_t spacing : {50 * kUs, 500 * kUs, 2 * kMs, 5 * kMs, 10 * kMs}) {
      for (int64_t phase = 0; phase < kSweepEvery; phase += 5 * kMs) {
        const Outcome out = OneAgentScript({one_way, spacing, phase}).Run();
        ++runs;
        const std::string where =
            "one way " + std::to_string(one_way / kUs) + " us, checks " +
            std::to_string(spacing / kUs) + " us apart, sweep at " +
            std::to_string(phase / kMs) + " ms: trial ";
        for (int trial = 0; trial < kTrials; ++trial) {
          EXPECT_GE(out.burst_admitted[trial], 10) << where << trial;
          EXPECT_LE(out.burst_admitted[trial], 12) << where << trial;
          EXPECT_TRUE(out.after_admitted[trial]) << where << trial;
        }
        EXPECT_LE(MaxWindow(out.admitted_at, kNanosPerSecond), 20) << where;
      }
    }
  }
  std::printf("%d scripts played\n", runs);
}

}  // namespace
}  // namespace sluice
