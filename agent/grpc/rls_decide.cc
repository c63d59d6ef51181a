#include "agent/grpc/rls_decide.h"

#include <limits>
#include <string>
#include <string_view>

namespace sluice::rls {
namespace {

constexpr int64_t kMsPerSecond = 1000;
constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;

// A printable, bounded copy of client bytes for an error message.
std::string Quoted(std::string_view bytes) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (size_t i = 0; i < bytes.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (bytes.size() > kMax) out += "...";
  return out + "'";
}

uint32_t ClampToUint32(int64_t value) {
  if (value <= 0) return 0;
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(value < kMax ? value : kMax);
}

void FillStatus(const Decision& d, const Checker& checker,
                RateLimitResponse::DescriptorStatus* status) {
  status->set_code(d.allowed ? RateLimitResponse::OK
                             : RateLimitResponse::OVER_LIMIT);
  if (d.limit < 0) return;  // no enforce rule applies
  RateLimitResponse::RateLimit* limit = status->mutable_current_limit();
  const Rule* rule = checker.rules()->Find(d.rule_id);
  if (rule != nullptr) {
    const UnitRate rate = ToUnitRate(rule->limit, rule->period_ms);
    limit->set_name(rule->name);
    limit->set_requests_per_unit(rate.requests_per_unit);
    limit->set_unit(rate.unit);
  } else {
    limit->set_requests_per_unit(ClampToUint32(d.limit));
  }
  status->set_limit_remaining(ClampToUint32(d.remaining));
  const int64_t reset_ms = d.reset_after_ms > 0 ? d.reset_after_ms : 0;
  google::protobuf::Duration* reset = status->mutable_duration_until_reset();
  reset->set_seconds(reset_ms / kMsPerSecond);
  reset->set_nanos(static_cast<int32_t>(reset_ms % kMsPerSecond * 1000000));
}

}  // namespace

Status ValidateRequest(const RateLimitRequest& request) {
  if (request.domain().empty()) {
    return Status::InvalidArgument(
        "the request's domain is empty: set RateLimitRequest.domain to the "
        "rules' domain (Envoy: the rate limit filter's `domain`)",
        "domain");
  }
  if (request.descriptors_size() == 0) {
    return Status::InvalidArgument(
        "the request has no descriptors: send at least one, each with at "
        "least one key/value entry",
        "descriptors");
  }
  if (request.descriptors_size() > kMaxDescriptors) {
    return Status::InvalidArgument(
        "the request has " + std::to_string(request.descriptors_size()) +
            " descriptors; at most " + std::to_string(kMaxDescriptors) +
            " are checked in one call: split it",
        "descriptors");
  }
  for (int i = 0; i < request.descriptors_size(); ++i) {
    if (request.descriptors(i).entries_size() == 0) {
      return Status::InvalidArgument(
          "descriptor " + std::to_string(i) + " of domain " +
              Quoted(request.domain()) +
              " has no entries: each descriptor needs at least one "
              "key/value entry, as RL.CHECK needs one pair",
          "descriptors");
    }
  }
  return Status::Ok();
}

UnitRate ToUnitRate(int64_t limit, int64_t period_ms) {
  struct Unit {
    int64_t ms;
    RateLimitUnit unit;
  };
  static constexpr Unit kUnits[] = {
      {kMsPerSecond, RateLimitResponse::RateLimit::SECOND},
      {kMsPerMinute, RateLimitResponse::RateLimit::MINUTE},
      {kMsPerHour, RateLimitResponse::RateLimit::HOUR},
      {kMsPerDay, RateLimitResponse::RateLimit::DAY},
  };
  if (limit <= 0 || period_ms <= 0) return UnitRate{};
  const Unit* chosen = &kUnits[3];
  for (const Unit& u : kUnits) {
    if (u.ms >= period_ms) {
      chosen = &u;
      break;
    }
  }
  // limit * unit / period, rounded down, without overflow.
  const unsigned __int128 rate =
      static_cast<unsigned __int128>(limit) * chosen->ms / period_ms;
  const uint32_t capped = rate > std::numeric_limits<uint32_t>::max()
                              ? std::numeric_limits<uint32_t>::max()
                              : static_cast<uint32_t>(rate);
  return UnitRate{capped, chosen->unit};
}

Status Decide(const RateLimitRequest& request, int64_t now, Checker* checker,
              Descriptor* scratch, RateLimitResponse* response) {
  response->Clear();
  const int64_t cost = request.hits_addend() == 0 ? 1 : request.hits_addend();
  bool over = false;
  for (const auto& descriptor : request.descriptors()) {
    scratch->clear();
    for (const auto& entry : descriptor.entries()) {
      scratch->emplace_back(entry.key(), entry.value());
    }
    Decision decision;
    if (checker->Check(request.domain(), cost, *scratch, now, &decision) ==
        Checker::Result::kBucketLimit) {
      return Status::ResourceExhausted(
          "bucket limit reached: this agent already holds " +
          std::to_string(checker->table().max_buckets()) +
          " buckets, the cap set by --max-buckets (SLUICE_MAX_BUCKETS); "
          "raise --max-buckets, or retry once idle buckets have been "
          "evicted");
    }
    over = over || !decision.allowed;
    FillStatus(decision, *checker, response->add_statuses());
  }
  response->set_overall_code(over ? RateLimitResponse::OVER_LIMIT
                                  : RateLimitResponse::OK);
  return Status::Ok();
}

}  // namespace sluice::rls
