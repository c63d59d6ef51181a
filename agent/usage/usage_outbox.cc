#include "agent/usage/usage_outbox.h"

#include <algorithm>
#include <utility>

namespace sluice {

void UsageOutbox::Add(UsageReport report) {
  pending_.push_back(Pending{std::move(report), 0, false});
  while (pending_.size() > max_reports_) {
    pending_.pop_front();
    ++dropped_;
  }
}

void UsageOutbox::Ack(uint64_t incarnation, uint64_t seq) {
  auto it =
      std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
        return p.report.incarnation == incarnation && p.report.seq == seq;
      });
  if (it != pending_.end()) pending_.erase(it);
}

void UsageOutbox::SendDue(int64_t now,
                          const std::function<bool(const UsageReport&)>& send) {
  for (Pending& p : pending_) {
    if (p.sent && now - p.last_sent < resend_ns_) continue;
    if (!send(p.report)) return;
    p.sent = true;
    p.last_sent = now;
  }
}

}  // namespace sluice
