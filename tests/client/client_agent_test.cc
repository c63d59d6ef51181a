// The client against a real sluice-agent leased by a real sluice-controller
// on PostgreSQL (tests/integration/stack.h): decisions, batches, many
// threads, and the agent going away and coming back.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sluice/client.h"
#include "tests/integration/stack.h"

namespace sluice::client {
namespace {

using std::chrono::milliseconds;
using testing::Eventually;
using testing::Stack;

// An hour-long period: no refill during a test, so counts are exact.
const char* kRule = R"({"name": "client-lib", "domain": "clib",
  "match": {"client_id": "*"}, "limit": 40, "period": "1h"})";

class ClientAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_.StartController();
    stack_.StartAgent();
    auto created = stack_.Http("POST", "/api/v1/rules", kRule);
    ASSERT_EQ(created.status, 201) << created.body;
    options_.socket_path = stack_.socket_path();
    options_.call_timeout = milliseconds(2000);
    options_.retry_after_failure = milliseconds(0);
    Client probe(options_);
    ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
      return probe.Check("clib", 0, {{"client_id", "probe"}}).limit == 40;
    }));
  }
  Stack stack_;
  ClientOptions options_;
};

TEST_F(ClientAgentTest, NoRuleMatchedIsAllowedWithoutALimit) {
  Client client(options_);
  Decision d = client.Check("other", 1, {{"client_id", "1"}});
  ASSERT_TRUE(d.from_agent()) << d.error_message;
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, -1);
  EXPECT_EQ(d.remaining, -1);
  EXPECT_EQ(d.reset_after_ms, 0);
  EXPECT_EQ(d.retry_after_ms, 0);
}

TEST_F(ClientAgentTest, EnforcesTheRuleAndSaysWhenToRetry) {
  Client client(options_);
  int allowed = 0;
  Decision last;
  for (int i = 0; i < 50; ++i) {
    last = client.Check("clib", 1, {{"client_id", "alice"}});
    ASSERT_TRUE(last.from_agent()) << last.error_message;
    allowed += last.allowed;
  }
  EXPECT_EQ(allowed, 40);
  EXPECT_FALSE(last.allowed);
  EXPECT_EQ(last.limit, 40);
  EXPECT_EQ(last.remaining, 0);
  EXPECT_GT(last.retry_after_ms, 0);
  EXPECT_EQ(client.stats().allowed, 40u);
  EXPECT_EQ(client.stats().refused, 10u);
}

TEST_F(ClientAgentTest, AnInvalidRequestIsAnAgentErrorDecidedByThePolicy) {
  options_.failure_policy = FailurePolicy::kClosed;
  Client client(options_);
  Decision d = client.Check("clib", 1, nullptr, 0);  // no key/value pair
  EXPECT_EQ(d.error, Error::kAgentError);
  EXPECT_NE(d.error_message.find("wrong number of arguments"),
            std::string::npos)
      << d.error_message;
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(client.Check("clib", 1, {{"client_id", "x"}}).from_agent());
}

TEST_F(ClientAgentTest, BatchDecidesInOrderInOneRoundTrip) {
  Client client(options_);
  std::vector<CheckRequest> requests;
  for (int i = 0; i < 45; ++i) {
    requests.push_back({"clib", 1, {{"client_id", "batch"}}});
  }
  requests.push_back({"other", 1, {{"client_id", "batch"}}});
  std::vector<Decision> out;
  client.CheckBatch(requests, &out);
  ASSERT_EQ(out.size(), 46u);
  for (int i = 0; i < 45; ++i) {
    ASSERT_TRUE(out[i].from_agent()) << out[i].error_message;
    EXPECT_EQ(out[i].allowed, i < 40) << i;
  }
  EXPECT_EQ(out[45].limit, -1);
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(ClientAgentTest, ConcurrentCallersGetExactlyTheLimit) {
  Client client(options_);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        Decision d = client.Check("clib", 1, {{"client_id", "crowd"}});
        if (d.from_agent() && d.allowed) ++allowed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 40);
  EXPECT_EQ(client.stats().checks(), 200u);
  EXPECT_EQ(client.stats().failed_open + client.stats().failed_closed, 0u);
}

TEST_F(ClientAgentTest, AgentGoneFailsByPolicyAndComesBack) {
  options_.failure_policy = FailurePolicy::kClosed;
  Client client(options_);
  ASSERT_TRUE(client.Check("clib", 1, {{"client_id", "z"}}).from_agent());
  stack_.agent().Stop();
  Decision down = client.Check("clib", 1, {{"client_id", "z"}});
  EXPECT_FALSE(down.from_agent());
  EXPECT_FALSE(down.allowed);
  // The pooled connection broke, or a fresh one found no socket.
  EXPECT_TRUE(down.error == Error::kConnectionLost ||
              down.error == Error::kUnreachable)
      << ErrorName(down.error) << ": " << down.error_message;
  EXPECT_EQ(client.stats().failed_closed, 1u);
  stack_.StartAgent();
  EXPECT_TRUE(Eventually(milliseconds(5000), [&] {
    return client.Check("clib", 0, {{"client_id", "z"}}).limit == 40;
  }));
}

}  // namespace
}  // namespace sluice::client
