// RateLimit-Policy, RateLimit and Retry-After from a decision.
#include "sluice/rate_limit_headers.h"

#include <gtest/gtest.h>

namespace sluice::client {
namespace {

Decision Agent(bool allowed, int64_t limit, int64_t remaining, int64_t reset,
               int64_t retry) {
  Decision d;
  d.allowed = allowed;
  d.limit = limit;
  d.remaining = remaining;
  d.reset_after_ms = reset;
  d.retry_after_ms = retry;
  return d;
}

TEST(RateLimitHeadersTest, AdmittedHasPolicyAndRemainingButNoRetryAfter) {
  RateLimitHeaders h =
      FormatRateLimitHeaders(Agent(true, 100, 42, 1500, 0), "api", 60);
  EXPECT_EQ(h.policy, "\"api\";q=100;w=60");
  EXPECT_EQ(h.rate_limit, "\"api\";r=42;t=2");
  EXPECT_EQ(h.retry_after, "");
}

TEST(RateLimitHeadersTest, RefusedHasRetryAfterInWholeSecondsRoundedUp) {
  RateLimitHeaders h =
      FormatRateLimitHeaders(Agent(false, 5, 0, 60000, 12001), "api", 0);
  EXPECT_EQ(h.policy, "\"api\";q=5");  // no window stated: no w
  EXPECT_EQ(h.rate_limit, "\"api\";r=0;t=60");
  EXPECT_EQ(h.retry_after, "13");
  // Under a second still says 1, never 0.
  EXPECT_EQ(
      FormatRateLimitHeaders(Agent(false, 5, 0, 10, 10), "a", 0).retry_after,
      "1");
  // Never possible (cost above burst): no Retry-After.
  EXPECT_EQ(
      FormatRateLimitHeaders(Agent(false, 5, 5, 0, -1), "a", 0).retry_after,
      "");
}

TEST(RateLimitHeadersTest, NothingWithoutARuleOrWithoutTheAgent) {
  EXPECT_EQ(FormatRateLimitHeaders(Agent(true, -1, -1, 0, 0), "a", 1).policy,
            "");
  Decision failed = Agent(false, 5, 0, 0, 100);
  failed.error = Error::kTimeout;
  RateLimitHeaders h = FormatRateLimitHeaders(failed, "a", 1);
  EXPECT_EQ(h.policy, "");
  EXPECT_EQ(h.rate_limit, "");
  EXPECT_EQ(h.retry_after, "");
}

TEST(RateLimitHeadersTest, PolicyNameIsAQuotedStructuredFieldString) {
  RateLimitHeaders h =
      FormatRateLimitHeaders(Agent(true, 1, 0, 0, 0), "a\"b\\c\nd", 0);
  EXPECT_EQ(h.policy, "\"a\\\"b\\\\c_d\";q=1");
}

TEST(RateLimitHeadersTest, CeilSeconds) {
  EXPECT_EQ(CeilSeconds(-5), 0);
  EXPECT_EQ(CeilSeconds(0), 0);
  EXPECT_EQ(CeilSeconds(1), 1);
  EXPECT_EQ(CeilSeconds(1000), 1);
  EXPECT_EQ(CeilSeconds(1001), 2);
}

}  // namespace
}  // namespace sluice::client
