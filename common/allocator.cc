#include "common/allocator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sluice {
namespace {

// Floating-point slack: amounts this close to a whole count are that count.
constexpr double kEpsilon = 1e-6;

double Positive(double x) { return x > 0 ? x : 0; }

}  // namespace

void MaxMinFairShares(double capacity, const std::vector<FairClaim>& claims,
                      std::vector<double>* shares) {
  shares->assign(claims.size(), 0.0);
  std::vector<size_t> order;
  order.reserve(claims.size());
  double weights = 0;
  for (size_t i = 0; i < claims.size(); ++i) {
    if (claims[i].demand > 0 && claims[i].weight > 0) {
      order.push_back(i);
      weights += claims[i].weight;
    }
  }
  // Ascending demand per unit of weight: whoever wants less than the
  // current equal level is satisfied first.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return claims[a].demand * claims[b].weight <
           claims[b].demand * claims[a].weight;
  });
  double remaining = Positive(capacity);
  for (size_t k = 0; k < order.size(); ++k) {
    const FairClaim& claim = claims[order[k]];
    const double level = weights > 0 ? remaining / weights : 0;
    if (claim.demand <= level * claim.weight) {
      (*shares)[order[k]] = claim.demand;
      remaining = Positive(remaining - claim.demand);
      weights -= claim.weight;
      continue;
    }
    // Everyone from here on wants more than the level: they split what
    // remains by weight.
    for (size_t j = k; j < order.size(); ++j) {
      (*shares)[order[j]] = level * claims[order[j]].weight;
    }
    break;
  }
}

BucketAllocator::BucketAllocator(const Rule& rule, int64_t now,
                                 const AllocatorOptions* options, Start start)
    : options_(options),
      capacity_(static_cast<double>(rule.burst)),
      rate_(rule.RatePerNano()),
      pool_(start == Start::kFull ? capacity_ : 0),
      last_(now) {}

BucketAllocator::AgentState* BucketAllocator::Find(uint64_t agent) {
  for (AgentState& a : agents_) {
    if (a.id == agent) return &a;
  }
  return nullptr;
}

const BucketAllocator::AgentState* BucketAllocator::Find(uint64_t agent) const {
  for (const AgentState& a : agents_) {
    if (a.id == agent) return &a;
  }
  return nullptr;
}

BucketAllocator::AgentState& BucketAllocator::FindOrAdd(uint64_t agent,
                                                        double weight) {
  AgentState* found = Find(agent);
  if (found == nullptr) {
    found = &agents_.emplace_back();
    found->id = agent;
  }
  found->weight = weight > 0 && std::isfinite(weight) ? weight : 1.0;
  return *found;
}

double BucketAllocator::CreditCap(const AgentState& a) const {
  return std::max(1.0,
                  a.share * static_cast<double>(options_->credit_horizon_ns));
}

int64_t BucketAllocator::Grace(const AgentState& a) const {
  // How long its last grant lasts at its demand: it need not ask before.
  const double rate = a.demand.rate();
  double lasts = rate > 0 ? static_cast<double>(a.last_grant) / rate
                          : static_cast<double>(options_->lease_ttl_ns);
  lasts = std::min(lasts, static_cast<double>(options_->lease_ttl_ns));
  return std::max(options_->min_grace_ns, static_cast<int64_t>(lasts));
}

void BucketAllocator::AccrueTo(int64_t t) {
  if (t <= last_) return;
  const double dt = static_cast<double>(t - last_);
  last_ = t;
  double refill = rate_ * dt;
  if (!(refill > 0)) return;
  // 1. A debt is paid first; the credits accrue over what time is left.
  if (pool_ < 0) {
    const double repay = std::min(refill, -pool_);
    pool_ += repay;
    refill -= repay;
    if (!(refill > 0)) return;
  }
  const double accrual_time = refill / rate_;
  // 2. Room under invariant 1.
  double credits = 0;
  for (const AgentState& a : agents_) credits += a.credit;
  double room = capacity_ - Positive(pool_) - credits - outstanding_;
  if (!(room > 0)) return;
  // 3. Each agent's share, up to its cap (GiveCredit); what nobody takes
  //    goes to the pool.
  const double given = GiveCredit(accrual_time, room);
  room -= given;
  if (t <= drop_unclaimed_until_) return;
  pool_ += std::min(Positive(refill - given), Positive(room));
}

double BucketAllocator::GiveCredit(double accrual_time, double room) {
  if (agents_.size() <= 1) {  // the common case (per-client buckets)
    if (agents_.empty()) return 0;
    AgentState& a = agents_[0];
    const double given = std::min(
        {a.share * accrual_time, Positive(CreditCap(a) - a.credit), room});
    a.credit += given;
    return given;
  }
  // What an agent at its cap does not take (it is not asking) goes to the
  // agents still below theirs, in proportion to their shares.
  add_.assign(agents_.size(), 0.0);
  double spill = 0;
  double open_shares = 0;  // shares of agents still below their cap
  for (size_t i = 0; i < agents_.size(); ++i) {
    const AgentState& a = agents_[i];
    const double accrued = a.share * accrual_time;
    const double headroom = Positive(CreditCap(a) - a.credit);
    add_[i] = std::min(accrued, headroom);
    spill += accrued - add_[i];
    if (add_[i] < headroom) open_shares += a.share;
  }
  for (int round = 0; round < 3 && spill > kEpsilon && open_shares > 0;
       ++round) {
    double next_open = 0;
    double spilled = 0;
    for (size_t i = 0; i < agents_.size(); ++i) {
      const AgentState& a = agents_[i];
      const double headroom = Positive(CreditCap(a) - a.credit - add_[i]);
      if (!(headroom > 0) || !(a.share > 0)) continue;
      const double extra = std::min(spill * a.share / open_shares, headroom);
      add_[i] += extra;
      spilled += extra;
      if (extra < headroom) next_open += a.share;
    }
    spill -= spilled;
    open_shares = next_open;
  }
  double given = 0;
  for (double add : add_) given += add;
  // Invariant 1: only what fits in the room, scaled down evenly.
  const double scale = given > room ? room / given : 1.0;
  for (size_t i = 0; i < agents_.size(); ++i) {
    agents_[i].credit += add_[i] * scale;
  }
  return given * scale;
}

void BucketAllocator::Advance(int64_t now) {
  // Leases that expire before `now` free their room at their expiry.
  size_t expired = 0;
  while (expired < leases_.size() && leases_[expired].expiry <= now) {
    AccrueTo(leases_[expired].expiry);
    outstanding_ = Positive(outstanding_ - leases_[expired].tokens);
    ++expired;
  }
  if (expired > 0) {
    leases_.erase(leases_.begin(),
                  leases_.begin() + static_cast<ptrdiff_t>(expired));
    if (leases_.empty()) outstanding_ = 0;  // no drift
  }
  AccrueTo(now);
}

void BucketAllocator::Spend(uint64_t agent, double tokens) {
  for (Lease& lease : leases_) {
    if (!(tokens > 0)) break;
    if (lease.agent != agent || lease.tokens <= 0) continue;
    const double spent = std::min(tokens, lease.tokens);
    lease.tokens -= spent;
    outstanding_ = Positive(outstanding_ - spent);
    tokens -= spent;
  }
  // Spent leases hold nothing: drop them (keeps the list short).
  leases_.erase(std::remove_if(leases_.begin(), leases_.end(),
                               [](const Lease& l) { return l.tokens <= 0; }),
                leases_.end());
  if (leases_.empty()) outstanding_ = 0;
}

void BucketAllocator::Account(AgentState& a, int64_t now,
                              const LeaseReport& report) {
  const int64_t admitted = std::max<int64_t>(0, report.admitted);
  const int64_t unleased =
      std::min(admitted, std::max<int64_t>(0, report.unleased));
  // Spent from leases: no longer outstanding (from the earliest expiring,
  // as the agent spends them).
  Spend(a.id, static_cast<double>(admitted - unleased));
  // Admitted without a lease: charged to its credit, then the pool.
  if (unleased > 0) {
    double charge = static_cast<double>(unleased);
    const double from_credit = std::min(charge, a.credit);
    a.credit -= from_credit;
    charge -= from_credit;
    pool_ = std::max(-capacity_, pool_ - charge);
  }
  a.demand.Report(options_->demand, now,
                  admitted + std::max<int64_t>(0, report.refused));
  RecomputeShares(now);
}

void BucketAllocator::RecomputeShares(int64_t now) {
  if (agents_.size() == 1) {  // the common case (per-client buckets)
    AgentState& a = agents_[0];
    a.share = std::min(rate_, a.demand.Rate(options_->demand, now, Grace(a)));
    return;
  }
  std::vector<FairClaim> claims(agents_.size());
  for (size_t i = 0; i < agents_.size(); ++i) {
    claims[i].demand =
        agents_[i].demand.Rate(options_->demand, now, Grace(agents_[i]));
    claims[i].weight = agents_[i].weight;
  }
  std::vector<double> shares;
  MaxMinFairShares(rate_, claims, &shares);
  for (size_t i = 0; i < agents_.size(); ++i) agents_[i].share = shares[i];
}

LeaseOffer BucketAllocator::Grant(uint64_t agent, int64_t now,
                                  const LeaseReport& report) {
  now = std::max(now, last_);
  Advance(now);
  AgentState& a = FindOrAdd(agent, report.weight);
  Account(a, now, report);
  LeaseOffer offer;
  offer.ttl_ns = options_->lease_ttl_ns;
  const double available = a.credit + Positive(pool_);
  const double want = static_cast<double>(std::max<int64_t>(0, report.want));
  const double tokens = std::min(want, std::floor(available + kEpsilon));
  a.last_grant = static_cast<int64_t>(Positive(tokens));
  if (!(tokens > 0)) return offer;
  offer.tokens = a.last_grant;
  const double from_credit = std::min(tokens, a.credit);
  a.credit -= from_credit;
  pool_ -= tokens - from_credit;
  if (pool_ < 0 && pool_ > -kEpsilon) pool_ = 0;
  outstanding_ += tokens;
  const int64_t expiry = now + options_->lease_ttl_ns;
  auto at = std::upper_bound(
      leases_.begin(), leases_.end(), expiry,
      [](int64_t e, const Lease& lease) { return e < lease.expiry; });
  leases_.insert(at, Lease{agent, expiry, tokens});
  return offer;
}

void BucketAllocator::Report(uint64_t agent, int64_t now,
                             const LeaseReport& report) {
  now = std::max(now, last_);
  Advance(now);
  Account(FindOrAdd(agent, report.weight), now, report);
}

void BucketAllocator::Forget(uint64_t agent, int64_t now) {
  now = std::max(now, last_);
  Advance(now);
  auto it =
      std::find_if(agents_.begin(), agents_.end(),
                   [agent](const AgentState& a) { return a.id == agent; });
  if (it == agents_.end()) return;
  // Its credit was inside the room already: moving it to the pool keeps
  // invariant 1.
  pool_ += it->credit;
  agents_.erase(it);
  RecomputeShares(now);
}

void BucketAllocator::Sweep(int64_t now) {
  now = std::max(now, last_);
  Advance(now);
  std::vector<uint64_t> gone;
  for (const AgentState& a : agents_) {
    const bool silent =
        now - a.demand.last_report() >= options_->forget_after_ns;
    const bool holds =
        std::any_of(leases_.begin(), leases_.end(),
                    [&](const Lease& lease) { return lease.agent == a.id; });
    if (silent && !holds) gone.push_back(a.id);
  }
  for (uint64_t id : gone) Forget(id, now);
}

void BucketAllocator::ClampToCapacity() {
  pool_ = std::max(pool_, -capacity_);
  double credits = 0;
  for (const AgentState& a : agents_) credits += a.credit;
  double excess = Positive(pool_) + credits + outstanding_ - capacity_;
  if (!(excess > 0)) return;
  const double from_pool = std::min(excess, Positive(pool_));
  pool_ -= from_pool;
  excess -= from_pool;
  if (!(excess > 0) || !(credits > 0)) return;
  const double keep = Positive(1.0 - excess / credits);
  for (AgentState& a : agents_) a.credit *= keep;
}

void BucketAllocator::Reconfigure(const Rule& rule, int64_t now) {
  now = std::max(now, last_);
  Advance(now);
  capacity_ = static_cast<double>(rule.burst);
  rate_ = rule.RatePerNano();
  ClampToCapacity();
  RecomputeShares(now);
}

bool BucketAllocator::Idle(int64_t now) {
  Advance(std::max(now, last_));
  return agents_.empty() && leases_.empty() && pool_ >= capacity_ - kEpsilon;
}

double BucketAllocator::Pool(int64_t now) {
  Advance(std::max(now, last_));
  return pool_;
}

double BucketAllocator::Credit(uint64_t agent, int64_t now) {
  Advance(std::max(now, last_));
  const AgentState* a = Find(agent);
  return a == nullptr ? 0 : a->credit;
}

double BucketAllocator::Outstanding(int64_t now) {
  Advance(std::max(now, last_));
  return outstanding_;
}

double BucketAllocator::ShareRate(uint64_t agent) const {
  const AgentState* a = Find(agent);
  return a == nullptr ? 0 : a->share * 1e9;
}

double BucketAllocator::DemandRate(uint64_t agent, int64_t now) const {
  const AgentState* a = Find(agent);
  return a == nullptr ? 0
                      : a->demand.Rate(options_->demand, now, Grace(*a)) * 1e9;
}

}  // namespace sluice
