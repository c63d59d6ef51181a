// UsageOutbox: the usage reports an agent has made and the controller has
// not acknowledged yet. A report is sent at once and again every
// `resend_ns` until its UsageAck arrives (the controller counts each
// report once, so sending again is safe). At most `max_reports` are kept:
// past that the oldest is dropped and counted (what it held is lost from
// the controller's counts; sluice_agent_usage_reports_dropped_total).
//
// Pure (times passed in, nanoseconds); thread-compatible (the lease
// client's thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "common/wire.h"

namespace sluice {

class UsageOutbox {
 public:
  static constexpr size_t kDefaultMaxReports = 600;  // 10 min at 1/s
  static constexpr int64_t kDefaultResendNs = 5'000'000'000;

  explicit UsageOutbox(size_t max_reports = kDefaultMaxReports,
                       int64_t resend_ns = kDefaultResendNs)
      : max_reports_(max_reports), resend_ns_(resend_ns) {}

  void Add(UsageReport report);
  // Forgets the report (incarnation, seq); unknown ones are ignored.
  void Ack(uint64_t incarnation, uint64_t seq);
  // Calls `send` for every report due at `now`, oldest first; stops at the
  // first `send` that fails (the rest wait for the next call).
  void SendDue(int64_t now,
               const std::function<bool(const UsageReport&)>& send);

  size_t size() const { return pending_.size(); }
  int64_t dropped() const { return dropped_; }

 private:
  struct Pending {
    UsageReport report;
    int64_t last_sent = 0;
    bool sent = false;
  };
  const size_t max_reports_;
  const int64_t resend_ns_;
  std::deque<Pending> pending_;
  int64_t dropped_ = 0;
};

}  // namespace sluice
