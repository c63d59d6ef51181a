// The HTTP check's responses (agent/http_check/check_response.h), formatted
// without a server: status, header fields, JSON body, framing.
#include "agent/http_check/check_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sluice::http_check {
namespace {

Rule MakeRule(const std::string& name, int64_t limit, int64_t period_ms) {
  Rule rule;
  rule.id = 9;
  rule.name = name;
  rule.limit = limit;
  rule.period_ms = period_ms;
  rule.burst = limit;
  return rule;
}

Decision Make(bool allowed, int64_t limit, int64_t remaining, int64_t reset,
              int64_t retry) {
  Decision d;
  d.allowed = allowed;
  d.limit = limit;
  d.remaining = remaining;
  d.reset_after_ms = reset;
  d.retry_after_ms = retry;
  d.rule_id = limit < 0 ? 0 : 9;
  return d;
}

std::string Body(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

bool HasLine(const std::string& response, const std::string& line) {
  return response.find("\r\n" + line + "\r\n") != std::string::npos;
}

TEST(CheckResponseTest, AllowedIs200WithTheRateLimitFields) {
  const Rule rule = MakeRule("login-per-user", 100, 60 * 1000);
  std::string out;
  AppendDecisionResponse(Make(true, 100, 99, 600, 0), &rule, Framing{}, &out);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_TRUE(HasLine(out, "Content-Type: application/json"));
  EXPECT_TRUE(HasLine(out, "Cache-Control: no-store"));
  EXPECT_TRUE(HasLine(out, "RateLimit-Policy: \"login-per-user\";q=100;w=60"));
  EXPECT_TRUE(HasLine(out, "RateLimit: \"login-per-user\";r=99;t=1"));
  EXPECT_EQ(out.find("Retry-After"), std::string::npos);
  EXPECT_EQ(out.find("Connection:"), std::string::npos);  // 1.1 default
  const std::string body = Body(out);
  EXPECT_EQ(body,
            "{\"allowed\": true, \"limit\": 100, \"remaining\": 99, "
            "\"reset_after_ms\": 600, \"retry_after_ms\": 0}");
  EXPECT_TRUE(HasLine(out, "Content-Length: " + std::to_string(body.size())));
}

TEST(CheckResponseTest, RefusedIs429WithRetryAfterRoundedUp) {
  const Rule rule = MakeRule("r", 10, 1000);
  for (const auto& [retry_ms, seconds] :
       {std::pair<int64_t, std::string>{1, "1"},
        {1000, "1"},
        {1001, "2"},
        {0, "0"},
        {86400000, "86400"}}) {
    std::string out;
    AppendDecisionResponse(Make(false, 10, 0, 900, retry_ms), &rule, Framing{},
                           &out);
    EXPECT_EQ(out.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u);
    EXPECT_TRUE(HasLine(out, "Retry-After: " + seconds)) << retry_ms;
    EXPECT_EQ(nlohmann::json::parse(Body(out)).value("allowed", true), false);
  }
  // Never (cost above the burst): no Retry-After.
  std::string out;
  AppendDecisionResponse(Make(false, 10, 3, 700, -1), &rule, Framing{}, &out);
  EXPECT_EQ(out.find("Retry-After"), std::string::npos);
}

TEST(CheckResponseTest, NoRuleHasNoRateLimitFields) {
  std::string out;
  AppendDecisionResponse(Make(true, -1, -1, 0, 0), nullptr, Framing{}, &out);
  EXPECT_EQ(out.find("RateLimit"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(Body(out)).value("limit", 0), -1);
}

TEST(CheckResponseTest, PolicyOfPeriodsThatAreNotWholeSeconds) {
  EXPECT_EQ(PolicyField(MakeRule("a", 5, 500)), "\"a\";q=10;w=1");
  EXPECT_EQ(PolicyField(MakeRule("a", 3, 1500)), "\"a\";q=4;w=2");
  EXPECT_EQ(PolicyField(MakeRule("a", 1, 1)), "\"a\";q=1000;w=1");
  EXPECT_EQ(PolicyField(MakeRule("a", 7, 24 * 3600 * 1000)),
            "\"a\";q=7;w=86400");
  EXPECT_EQ(PolicyField(MakeRule("we\"ird\\", 1, 1000)),
            "\"we\\\"ird\\\\\";q=1;w=1");
}

TEST(CheckResponseTest, Framing) {
  const Rule rule = MakeRule("r", 10, 1000);
  std::string close;
  AppendDecisionResponse(Make(true, 10, 9, 100, 0), &rule,
                         Framing{false, false, false}, &close);
  EXPECT_TRUE(HasLine(close, "Connection: close"));
  std::string kept10;
  AppendDecisionResponse(Make(true, 10, 9, 100, 0), &rule,
                         Framing{true, true, false}, &kept10);
  EXPECT_TRUE(HasLine(kept10, "Connection: keep-alive"));
  std::string head;
  AppendDecisionResponse(Make(true, 10, 9, 100, 0), &rule,
                         Framing{true, false, true}, &head);
  EXPECT_EQ(Body(head), "");
  EXPECT_EQ(head.find("Content-Length: 0"), std::string::npos);
}

TEST(CheckResponseTest, ErrorsHaveTheControllersShape) {
  std::string out;
  AppendErrorResponse(
      CheckError{400, "invalid_argument", "cost \"x\" is not valid", "cost"},
      Framing{}, &out);
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  const nlohmann::json body = nlohmann::json::parse(Body(out));
  EXPECT_EQ(body["error"]["code"], "invalid_argument");
  EXPECT_EQ(body["error"]["message"], "cost \"x\" is not valid");
  EXPECT_EQ(body["error"]["field"], "cost");

  out.clear();
  AppendErrorResponse(CheckError{405, "method_not_allowed", "no", ""},
                      Framing{}, &out, "Allow: GET, HEAD\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_TRUE(HasLine(out, "Allow: GET, HEAD"));
  EXPECT_FALSE(nlohmann::json::parse(Body(out))["error"].contains("field"));

  // Bytes that are not UTF-8 cannot break the JSON.
  out.clear();
  AppendErrorResponse(CheckError{400, "invalid_argument", "bad", "k\xff"},
                      Framing{}, &out);
  EXPECT_FALSE(nlohmann::json::parse(Body(out), nullptr, false).is_discarded());
}

}  // namespace
}  // namespace sluice::http_check
