#include "common/allocator.h"

#include <algorithm>
#include <cmath>

namespace sluice {
namespace {

// Floating-point slack: amounts this close to a whole count are that count.
constexpr double kEpsilon = 1e-6;

double Positive(double x) { return x > 0 ? x : 0; }

// The float nearest `x` from above: a lease bin never holds less than the
// tokens it stands for.
float UpToFloat(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, HUGE_VALF);
  return f;
}

// The float nearest `x` from below: a credit or share never holds more
// than the budget reserved for it.
float DownToFloat(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) f = std::nextafter(f, -HUGE_VALF);
  return f;
}

int64_t CeilDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return q * b < a ? q + 1 : q;
}

// Scratch of the several-agents paths, shared by the allocators of a
// thread instead of kept in each.
struct Scratch {
  std::vector<double> add;
  std::vector<FairClaim> claims;
  std::vector<double> shares;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

void MaxMinFairShares(double capacity, const std::vector<FairClaim>& claims,
                      std::vector<double>* shares) {
  shares->assign(claims.size(), 0.0);
  thread_local std::vector<size_t> order;  // scratch, kept per thread
  order.clear();
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

size_t BucketAllocator::agent_count() const { return count_; }

BucketAllocator::AgentState* BucketAllocator::Find(uint64_t id) {
  for (size_t i = 0; i < count_; ++i) {
    if (agent(i).id == static_cast<uint32_t>(id)) return &agent(i);
  }
  return nullptr;
}

const BucketAllocator::AgentState* BucketAllocator::Find(uint64_t id) const {
  for (size_t i = 0; i < count_; ++i) {
    if (agent(i).id == static_cast<uint32_t>(id)) return &agent(i);
  }
  return nullptr;
}

BucketAllocator::AgentState& BucketAllocator::FindOrAdd(uint64_t id,
                                                        double weight) {
  AgentState* found = Find(id);
  if (found == nullptr) {
    const uint32_t capacity = MoreCapacity();
    if (count_ > 0 && count_ - 1 == capacity) {
      // The agents beyond the first: one array, grown by doubling.
      std::unique_ptr<AgentState[]> grown(
          new AgentState[capacity == 0 ? 1 : 2 * capacity]);
      std::copy(more_.get(), more_.get() + capacity, grown.get());
      more_log2_ = static_cast<uint8_t>(capacity == 0 ? 0 : more_log2_ + 1);
      more_ = std::move(grown);
    }
    found = &agent(count_++);
    *found = AgentState();
    found->id = static_cast<uint32_t>(id);
  }
  found->weight =
      weight > 0 && std::isfinite(weight) ? static_cast<float>(weight) : 1.0f;
  return *found;
}

void BucketAllocator::EraseAgent(size_t i) {
  // Order does not matter: the last one takes its place.
  if (i + 1 < count_) agent(i) = agent(count_ - 1);
  --count_;
  if (count_ <= 1 && more_) {  // back to the inline agent alone
    more_.reset();
    more_log2_ = 0;
  }
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

int64_t BucketAllocator::BinWidth() const {
  return std::max<int64_t>(
      1,
      CeilDiv(std::max<int64_t>(1, options_->lease_ttl_ns), kLeaseSlots - 1));
}

int64_t BucketAllocator::FirstBin() const {
  const int64_t base = last_ / BinWidth();
  return base + static_cast<int32_t>(first_bin_ - static_cast<uint32_t>(base));
}

double BucketAllocator::OutstandingNow() const {
  double outstanding = 0;
  for (int b = 0; b < bins_; ++b) outstanding += lease_tokens_[b];
  return outstanding;
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
  for (size_t i = 0; i < count_; ++i) credits += agent(i).credit;
  double room = capacity_ - Positive(pool_) - credits - OutstandingNow();
  if (!(room > 0)) return;
  // 3. Each agent's share, up to its cap (GiveCredit); what nobody takes
  //    goes to the pool.
  const double given = GiveCredit(accrual_time, room);
  room -= given;
  if (t <= options_->drop_unclaimed_until_ns) return;
  pool_ += std::min(Positive(refill - given), Positive(room));
}

double BucketAllocator::GiveCredit(double accrual_time, double room) {
  if (count_ <= 1) {  // the common case (per-client buckets)
    if (count_ == 0) return 0;
    AgentState& a = first_;
    const double given = std::min(
        {a.share * accrual_time, Positive(CreditCap(a) - a.credit), room});
    const float before = a.credit;
    a.credit = DownToFloat(before + given);
    return static_cast<double>(a.credit) - before;
  }
  // What an agent at its cap does not take (it is not asking) goes to the
  // agents still below theirs, in proportion to their shares.
  std::vector<double>& add = ThreadScratch().add;
  add.assign(count_, 0.0);
  double spill = 0;
  double open_shares = 0;  // shares of agents still below their cap
  for (size_t i = 0; i < count_; ++i) {
    const AgentState& a = agent(i);
    const double accrued = a.share * accrual_time;
    const double headroom = Positive(CreditCap(a) - a.credit);
    add[i] = std::min(accrued, headroom);
    spill += accrued - add[i];
    if (add[i] < headroom) open_shares += a.share;
  }
  for (int round = 0; round < 3 && spill > kEpsilon && open_shares > 0;
       ++round) {
    double next_open = 0;
    double spilled = 0;
    for (size_t i = 0; i < count_; ++i) {
      const AgentState& a = agent(i);
      const double headroom = Positive(CreditCap(a) - a.credit - add[i]);
      if (!(headroom > 0) || !(a.share > 0)) continue;
      const double extra = std::min(spill * a.share / open_shares, headroom);
      add[i] += extra;
      spilled += extra;
      if (extra < headroom) next_open += a.share;
    }
    spill -= spilled;
    open_shares = next_open;
  }
  double given = 0;
  for (size_t i = 0; i < count_; ++i) given += add[i];
  // Invariant 1: only what fits in the room, scaled down evenly.
  const double scale = given > room ? room / given : 1.0;
  double added = 0;
  for (size_t i = 0; i < count_; ++i) {
    AgentState& a = agent(i);
    const float before = a.credit;
    a.credit = DownToFloat(before + add[i] * scale);
    added += static_cast<double>(a.credit) - before;
  }
  return added;
}

void BucketAllocator::AgeAgents(int64_t now) {
  const int64_t width = BinWidth();
  for (size_t i = 0; i < count_; ++i) {
    AgentState& a = agent(i);
    a.demand.Age(last_, now);
    if (a.held > 0 &&
        CeilDiv(a.demand.last_report(now) + options_->lease_ttl_ns, width) *
                width <=
            now) {
      a.held = 0;  // its last lease has expired, and so all before it
    }
  }
}

void BucketAllocator::Advance(int64_t now) {
  AgeAgents(now);
  // Lease bins that end before `now` free their room at their end, the
  // earliest first.
  const int64_t width = BinWidth();
  while (bins_ > 0 && FirstBin() * width <= now) {
    AccrueTo(FirstBin() * width);
    DropFirstBins(1);
  }
  AccrueTo(now);
}

void BucketAllocator::DropFirstBins(int n) {
  std::copy(lease_tokens_ + n, lease_tokens_ + bins_, lease_tokens_);
  std::fill(lease_tokens_ + bins_ - n, lease_tokens_ + bins_, 0.0f);
  bins_ = static_cast<uint8_t>(bins_ - n);
  first_bin_ += static_cast<uint32_t>(n);
}

void BucketAllocator::AddLease(int64_t expiry, double tokens) {
  // Rounded up to the end of its bin: never earlier than the real expiry.
  const int64_t bin = CeilDiv(expiry, BinWidth());
  if (bins_ == 0) {
    first_bin_ = static_cast<uint32_t>(bin);
    bins_ = 1;
    lease_tokens_[0] = UpToFloat(tokens);
    return;
  }
  // Time never moves back, so the bin is at or after the last one; an
  // earlier one would be put in the last (a later expiry: still safe).
  int64_t slot = std::max<int64_t>(bin - FirstBin(), bins_ - 1);
  // Beyond the slots (only if expired bins were not dropped first): the
  // earliest bin joins the next one, which expires later (safe).
  while (slot >= kLeaseSlots) {
    if (bins_ > 1) {
      lease_tokens_[1] =
          UpToFloat(static_cast<double>(lease_tokens_[0]) + lease_tokens_[1]);
      lease_tokens_[0] = 0;
    }
    DropFirstBins(1);
    --slot;
  }
  bins_ = static_cast<uint8_t>(std::max<int64_t>(bins_, slot + 1));
  lease_tokens_[slot] =
      UpToFloat(static_cast<double>(lease_tokens_[slot]) + tokens);
}

void BucketAllocator::SpendLeases(double spent) {
  int first_left = 0;  // bins emptied at the front are dropped
  for (int b = 0; b < bins_ && spent > 0; ++b) {
    const double held = lease_tokens_[b];
    const double take = std::min(spent, held);
    lease_tokens_[b] = UpToFloat(held - take);
    spent -= take;
    if (lease_tokens_[b] <= 0 && first_left == b) ++first_left;
  }
  if (first_left > 0) DropFirstBins(first_left);
}

void BucketAllocator::Account(AgentState& a, int64_t now,
                              const LeaseReport& report) {
  const int64_t admitted = std::max<int64_t>(0, report.admitted);
  const int64_t unleased =
      std::min(admitted, std::max<int64_t>(0, report.unleased));
  // Spent from leases: no longer outstanding (from the earliest expiring
  // bins; at most what it holds).
  const double spent = std::min(static_cast<double>(admitted - unleased),
                                static_cast<double>(a.held));
  if (spent > 0) {
    a.held = UpToFloat(a.held - spent);
    SpendLeases(spent);
  }
  // Admitted without a lease: charged to its credit, then the pool.
  if (unleased > 0) {
    double charge = static_cast<double>(unleased);
    const double from_credit = std::min(charge, static_cast<double>(a.credit));
    a.credit = DownToFloat(a.credit - from_credit);
    charge -= from_credit;
    pool_ = std::max(-capacity_, pool_ - charge);
  }
  a.demand.Report(options_->demand, now,
                  admitted + std::max<int64_t>(0, report.refused));
  RecomputeShares(now);
}

void BucketAllocator::RecomputeShares(int64_t now) {
  if (count_ == 1) {  // the common case (per-client buckets)
    AgentState& a = first_;
    a.share = DownToFloat(
        std::min(rate_, a.demand.Rate(options_->demand, now, Grace(a))));
    return;
  }
  Scratch& scratch = ThreadScratch();
  scratch.claims.resize(count_);
  for (size_t i = 0; i < count_; ++i) {
    const AgentState& a = agent(i);
    scratch.claims[i].demand = a.demand.Rate(options_->demand, now, Grace(a));
    scratch.claims[i].weight = a.weight;
  }
  MaxMinFairShares(rate_, scratch.claims, &scratch.shares);
  for (size_t i = 0; i < count_; ++i) {
    agent(i).share = DownToFloat(scratch.shares[i]);
  }
}

LeaseOffer BucketAllocator::Grant(uint64_t id, int64_t now,
                                  const LeaseReport& report) {
  now = std::max(now, last_);
  Advance(now);
  AgentState& a = FindOrAdd(id, report.weight);
  Account(a, now, report);
  LeaseOffer offer;
  offer.ttl_ns = options_->lease_ttl_ns;
  const double available = static_cast<double>(a.credit) + Positive(pool_);
  const double want = static_cast<double>(std::max<int64_t>(0, report.want));
  const double tokens = std::min(want, std::floor(available + kEpsilon));
  a.last_grant = static_cast<float>(Positive(tokens));
  if (!(tokens > 0)) return offer;
  offer.tokens = static_cast<int64_t>(tokens);
  const double from_credit = std::min(tokens, static_cast<double>(a.credit));
  a.credit = DownToFloat(Positive(a.credit - from_credit));
  pool_ -= tokens - from_credit;
  if (pool_ < 0 && pool_ > -kEpsilon) pool_ = 0;
  a.held = UpToFloat(static_cast<double>(a.held) + tokens);
  AddLease(now + options_->lease_ttl_ns, tokens);
  return offer;
}

void BucketAllocator::Report(uint64_t id, int64_t now,
                             const LeaseReport& report) {
  now = std::max(now, last_);
  Advance(now);
  Account(FindOrAdd(id, report.weight), now, report);
}

void BucketAllocator::Forget(uint64_t id, int64_t now) {
  now = std::max(now, last_);
  Advance(now);
  AgentState* a = Find(id);
  if (a == nullptr) return;
  // Its credit was inside the room already: moving it to the pool keeps
  // invariant 1. Its leases stay in the bins until they expire.
  pool_ += a->credit;
  EraseAgent(a == &first_ ? 0 : static_cast<size_t>(a - more_.get()) + 1);
  RecomputeShares(now);
}

void BucketAllocator::Sweep(int64_t now) {
  now = std::max(now, last_);
  Advance(now);
  for (size_t i = count_; i-- > 0;) {
    const AgentState& a = agent(i);
    const bool silent =
        now - a.demand.last_report(now) >= options_->forget_after_ns;
    if (silent) Forget(a.id, now);
  }
}

void BucketAllocator::ClampToCapacity() {
  pool_ = std::max(pool_, -capacity_);
  double credits = 0;
  for (size_t i = 0; i < count_; ++i) credits += agent(i).credit;
  double excess = Positive(pool_) + credits + OutstandingNow() - capacity_;
  if (!(excess > 0)) return;
  const double from_pool = std::min(excess, Positive(pool_));
  pool_ -= from_pool;
  excess -= from_pool;
  if (!(excess > 0) || !(credits > 0)) return;
  const double keep = Positive(1.0 - excess / credits);
  for (size_t i = 0; i < count_; ++i) {
    agent(i).credit = DownToFloat(agent(i).credit * keep);
  }
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
  return count_ == 0 && pool_ >= capacity_ - kEpsilon;
}

double BucketAllocator::Pool(int64_t now) {
  Advance(std::max(now, last_));
  return pool_;
}

double BucketAllocator::Credit(uint64_t id, int64_t now) {
  Advance(std::max(now, last_));
  const AgentState* a = Find(id);
  return a == nullptr ? 0 : a->credit;
}

double BucketAllocator::Outstanding(int64_t now) {
  Advance(std::max(now, last_));
  return OutstandingNow();
}

double BucketAllocator::ShareRate(uint64_t id) const {
  const AgentState* a = Find(id);
  return a == nullptr ? 0 : static_cast<double>(a->share) * 1e9;
}

double BucketAllocator::DemandRate(uint64_t id, int64_t now) const {
  const AgentState* a = Find(id);
  return a == nullptr ? 0
                      : a->demand.Rate(options_->demand, now, Grace(*a)) * 1e9;
}

}  // namespace sluice
