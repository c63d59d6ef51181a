#include "controller/cluster/cluster_view.h"

#include <algorithm>
#include <utility>

namespace sluice {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

}  // namespace

ClusterView::ClusterView(std::string self_id, int64_t lease_ttl_ms,
                         ClusterTimings timings)
    : self_id_(std::move(self_id)),
      hold_ns_(timings.HoldMs(lease_ttl_ms) * kNanosPerMilli),
      timings_(timings) {}

Adoption ClusterView::OnHeartbeat(int64_t started, int64_t now,
                                  const ControllerSet& set,
                                  const ControllerSet& previous,
                                  const std::string& self_endpoint) {
  Adoption adoption;
  holds_.erase(std::remove_if(holds_.begin(), holds_.end(),
                              [now](const Hold& h) { return h.until <= now; }),
               holds_.end());
  const bool first = current_.version() == 0;
  const bool was_gone =
      last_success_ != 0 &&
      started - last_success_ > timings_.dead_ms * kNanosPerMilli;
  last_success_ = std::max(last_success_, started);
  if (set.version == current_.version()) return adoption;
  if (set.version < current_.version()) return adoption;  // stale read
  adoption.set_changed = true;
  Hold hold;
  hold.until = now + hold_ns_;
  if (was_gone) {
    // Others may have owned our buckets meanwhile, and may still have
    // leases out: start over.
    adoption.start_over = true;
    hold.all = true;
  } else if (first) {
    ControllerSet before = previous;
    before.members.erase(
        std::remove_if(before.members.begin(), before.members.end(),
                       [&](const ControllerMember& m) {
                         return m.id != self_id_ && m.endpoint == self_endpoint;
                       }),
        before.members.end());
    hold.before = Ownership(std::move(before));
  } else {
    hold.before = current_;
  }
  hold.all_ours = !hold.all && hold.before.empty();
  hold.self = hold.before.IndexOf(self_id_);
  current_ = Ownership(set);
  self_index_ = current_.IndexOf(self_id_);
  shared_ = !(current_.set().members.size() == 1 && self_index_ == 0) &&
            !current_.empty();
  if (!hold.all_ours) AddHold(std::move(hold), now);
  return adoption;
}

void ClusterView::AddHold(Hold hold, int64_t /*now*/) {
  holds_.push_back(std::move(hold));
}

int64_t ClusterView::hold_until() const {
  int64_t until = 0;
  for (const Hold& h : holds_) until = std::max(until, h.until);
  return until;
}

bool ClusterView::fenced(int64_t now) const {
  if (current_.empty()) return false;
  const bool others = current_.set().members.size() > 1 || self_index_ < 0;
  return others && now - last_success_ > timings_.fence_ms * kNanosPerMilli;
}

BucketState ClusterView::StateOf(uint64_t key_hash, int64_t now) const {
  if (!current_.empty() && current_.Owner(key_hash) != self_index_) {
    return BucketState::kNotOwned;
  }
  for (const Hold& h : holds_) {
    if (h.until <= now) continue;
    if (h.all) return BucketState::kHeld;
    if (h.before.empty() || h.before.Owner(key_hash) != h.self) {
      return BucketState::kHeld;
    }
  }
  return BucketState::kOwned;
}

}  // namespace sluice
