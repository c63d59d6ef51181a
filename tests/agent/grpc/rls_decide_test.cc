// Envoy's RateLimitRequest as RL.CHECKs (agent/grpc/rls_decide.h), without
// gRPC or a network: validation, the unit of current_limit, and the
// statuses of a request against a Checker at fixed times.
#include "agent/grpc/rls_decide.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include "common/rule_index.h"

namespace sluice::rls {
namespace {

using Entry = std::pair<std::string, std::string>;
using Unit = RateLimitResponse::RateLimit;

constexpr int64_t kNow = int64_t{1000} * 1000 * 1000 * 1000;

RateLimitRequest Request(
    const std::string& domain,
    std::initializer_list<std::initializer_list<Entry>> descriptors,
    uint32_t hits = 0) {
  RateLimitRequest request;
  request.set_domain(domain);
  request.set_hits_addend(hits);
  for (const auto& entries : descriptors) {
    auto* d = request.add_descriptors();
    for (const auto& [key, value] : entries) {
      auto* e = d->add_entries();
      e->set_key(key);
      e->set_value(value);
    }
  }
  return request;
}

Rule MakeRule(int64_t id, const std::string& name, const std::string& domain,
              const std::string& key, int64_t limit, int64_t period_ms,
              int64_t burst, RuleMode mode = RuleMode::kEnforce) {
  Rule rule;
  rule.id = id;
  rule.version = 1;
  rule.name = name;
  rule.domain = domain;
  rule.match = {{key, "*"}};
  rule.limit = limit;
  rule.period_ms = period_ms;
  rule.burst = burst;
  rule.mode = mode;
  return rule;
}

class DecideTest : public ::testing::Test {
 protected:
  explicit DecideTest(size_t max_buckets = 1000) : checker_(max_buckets) {
    checker_.SetRules(
        RuleIndex::Build(
            {MakeRule(1, "per-client", "api", "client_id", 10, 1000, 3),
             MakeRule(2, "per-user-minute", "login", "user", 2, 60 * 1000, 2),
             MakeRule(3, "shadow-ip", "shadow", "ip", 1, 1000, 1,
                      RuleMode::kShadow)},
            1),
        kNow);
  }

  RateLimitResponse Run(const RateLimitRequest& request) {
    RateLimitResponse response;
    const Status status =
        Decide(request, kNow, &checker_, &scratch_, &response);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return response;
  }

  Checker checker_;
  Descriptor scratch_;
};

TEST(ValidateRequestTest, AcceptsAWellFormedRequest) {
  EXPECT_TRUE(ValidateRequest(Request("api", {{{"client_id", "42"}}})).ok());
}

TEST(ValidateRequestTest, RefusesWhatCannotBeChecked) {
  struct Case {
    RateLimitRequest request;
    std::string says;
  };
  RateLimitRequest too_many = Request("api", {});
  for (int i = 0; i <= kMaxDescriptors; ++i) {
    too_many.add_descriptors()->add_entries()->set_key("k");
  }
  const Case cases[] = {
      {Request("", {{{"client_id", "42"}}}), "domain is empty"},
      {Request("api", {}), "no descriptors"},
      {Request("api", {{{"a", "1"}}, {}}), "descriptor 1 of domain 'api'"},
      {too_many, "at most 256"},
  };
  for (const Case& c : cases) {
    const Status status = ValidateRequest(c.request);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(status.message().find(c.says), std::string::npos)
        << status.message();
  }
}

TEST(ToUnitRateTest, ExactUnitsAndOtherPeriods) {
  struct Case {
    int64_t limit, period_ms;
    uint32_t per_unit;
    RateLimitUnit unit;
  };
  const Case cases[] = {
      {100, 1000, 100, Unit::SECOND},
      {5, 60 * 1000, 5, Unit::MINUTE},
      {7, 3600 * 1000, 7, Unit::HOUR},
      {1000, 24 * 3600 * 1000, 1000, Unit::DAY},
      {5, 500, 10, Unit::SECOND},       // 10 per second
      {1, 3, 333, Unit::SECOND},        // rounded down
      {3, 90 * 1000, 120, Unit::HOUR},  // 90 s: per hour
      {10, 2 * 3600 * 1000, 120, Unit::DAY},
      {7, 2 * 24 * 3600 * 1000, 3, Unit::DAY},  // 3.5 a day
      {1, 7 * 24 * 3600 * 1000, 0, Unit::DAY},  // less than one a day
      {int64_t{1} << 50, 1, std::numeric_limits<uint32_t>::max(),
       Unit::SECOND},  // capped
  };
  for (const Case& c : cases) {
    const UnitRate rate = ToUnitRate(c.limit, c.period_ms);
    EXPECT_EQ(rate.requests_per_unit, c.per_unit)
        << c.limit << " per " << c.period_ms << " ms";
    EXPECT_EQ(rate.unit, c.unit) << c.limit << " per " << c.period_ms << " ms";
  }
}

TEST_F(DecideTest, AllowsThenRefusesWithTheRulesFields) {
  const RateLimitRequest request = Request("api", {{{"client_id", "42"}}});
  for (int i = 0; i < 3; ++i) {
    const RateLimitResponse r = Run(request);
    ASSERT_EQ(r.statuses_size(), 1);
    EXPECT_EQ(r.overall_code(), RateLimitResponse::OK);
    const auto& s = r.statuses(0);
    EXPECT_EQ(s.code(), RateLimitResponse::OK);
    EXPECT_EQ(s.current_limit().name(), "per-client");
    EXPECT_EQ(s.current_limit().requests_per_unit(), 10u);
    EXPECT_EQ(s.current_limit().unit(), Unit::SECOND);
    EXPECT_EQ(s.limit_remaining(), static_cast<uint32_t>(2 - i));
  }
  const RateLimitResponse refused = Run(request);
  EXPECT_EQ(refused.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).limit_remaining(), 0u);
  // Three tokens at 10 a second: full again in 300 ms.
  EXPECT_EQ(refused.statuses(0).duration_until_reset().seconds(), 0);
  EXPECT_EQ(refused.statuses(0).duration_until_reset().nanos(), 300000000);
}

TEST_F(DecideTest, HitsAddendIsTheCostAndZeroMeansOne) {
  RateLimitResponse r = Run(Request("api", {{{"client_id", "7"}}}, 0));
  EXPECT_EQ(r.statuses(0).limit_remaining(), 2u);
  r = Run(Request("api", {{{"client_id", "7"}}}, 2));
  EXPECT_EQ(r.statuses(0).limit_remaining(), 0u);
  EXPECT_EQ(r.overall_code(), RateLimitResponse::OK);
  // More than the burst can never be admitted.
  r = Run(Request("api", {{{"client_id", "8"}}}, 4));
  EXPECT_EQ(r.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 3u);  // nothing was taken
}

TEST_F(DecideTest, OverLimitWhenAnyDescriptorIsAndEachTakesItsOwnTokens) {
  // Empty the login bucket of "bob" first.
  for (int i = 0; i < 2; ++i) Run(Request("login", {{{"user", "bob"}}}));
  const RateLimitResponse r = Run(
      Request("login", {{{"user", "ann"}}, {{"user", "bob"}}, {{"x", "y"}}}));
  ASSERT_EQ(r.statuses_size(), 3);
  EXPECT_EQ(r.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(r.statuses(0).code(), RateLimitResponse::OK);
  EXPECT_EQ(r.statuses(0).current_limit().unit(), Unit::MINUTE);
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 2u);
  EXPECT_EQ(r.statuses(1).code(), RateLimitResponse::OVER_LIMIT);
  // No rule for the third: OK, and no limit to describe.
  EXPECT_EQ(r.statuses(2).code(), RateLimitResponse::OK);
  EXPECT_FALSE(r.statuses(2).has_current_limit());
  EXPECT_FALSE(r.statuses(2).has_duration_until_reset());
  // ann's token was taken although bob was refused (as two RL.CHECKs).
  Decision peek;
  checker_.Check("login", 0, {{"user", "ann"}}, kNow, &peek);
  EXPECT_EQ(peek.remaining, 1);
}

TEST_F(DecideTest, UnknownDomainAndShadowRulesAnswerOkWithoutALimit) {
  for (const char* domain : {"nowhere", "shadow"}) {
    for (int i = 0; i < 3; ++i) {
      const RateLimitResponse r = Run(Request(domain, {{{"ip", "1.2.3.4"}}}));
      EXPECT_EQ(r.overall_code(), RateLimitResponse::OK) << domain;
      EXPECT_EQ(r.statuses(0).code(), RateLimitResponse::OK) << domain;
      EXPECT_FALSE(r.statuses(0).has_current_limit()) << domain;
      EXPECT_EQ(r.statuses(0).limit_remaining(), 0u) << domain;
    }
  }
  // The shadow rule counted what it would have refused.
  const auto& counts = checker_.decision_counts();
  EXPECT_EQ(counts[2].allowed, 1);
  EXPECT_EQ(counts[2].shadow_refused, 2);
}

class FullTableTest : public DecideTest {
 protected:
  FullTableTest() : DecideTest(1) {}
};

TEST_F(FullTableTest, BucketLimitIsResourceExhausted) {
  RateLimitResponse r;
  EXPECT_TRUE(Decide(Request("api", {{{"client_id", "1"}}}), kNow, &checker_,
                     &scratch_, &r)
                  .ok());
  const Status status = Decide(Request("api", {{{"client_id", "2"}}}), kNow,
                               &checker_, &scratch_, &r);
  EXPECT_EQ(status.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(status.message().find("--max-buckets"), std::string::npos);
}

}  // namespace
}  // namespace sluice::rls
