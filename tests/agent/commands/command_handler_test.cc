#include "agent/commands/command_handler.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;

Rule ClientRule(int64_t limit, int64_t burst) {
  Rule rule;
  rule.id = 1;
  rule.version = 1;
  rule.name = "per-client";
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = limit;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

class CommandHandlerTest : public ::testing::Test {
 protected:
  CommandHandlerTest() {
    checker_.SetRules(RuleIndex::Build({ClientRule(10, 2)}, 7), now_);
  }

  std::string Run(std::vector<std::string_view> args) {
    std::string out;
    last_ = handler_.Execute(args, now_, 42, &out);
    return out;
  }

  Checker checker_{1000};
  CommandHandler handler_{&checker_};
  CommandHandler::Outcome last_;
  int64_t now_ = 5 * kNanosPerSecond;
};

TEST_F(CommandHandlerTest, CheckRepliesWithFiveIntegers) {
  EXPECT_EQ(Run({"RL.CHECK", "api", "1", "client_id", "a"}),
            "*5\r\n:1\r\n:10\r\n:1\r\n:100\r\n:0\r\n");
  EXPECT_EQ(Run({"rl.check", "api", "1", "client_id", "a"}),
            "*5\r\n:1\r\n:10\r\n:0\r\n:200\r\n:0\r\n");
  EXPECT_EQ(Run({"Rl.Check", "api", "1", "client_id", "a"}),
            "*5\r\n:0\r\n:10\r\n:0\r\n:200\r\n:100\r\n");
  EXPECT_EQ(Run({"RL.CHECK", "api", "1", "other", "a"}),
            "*5\r\n:1\r\n:-1\r\n:-1\r\n:0\r\n:0\r\n");
  EXPECT_EQ(last_.action, CommandHandler::Action::kContinue);
}

// Every magnitude of every field is written as RESP integers (the reply is
// formatted by hand on the hot path).
TEST_F(CommandHandlerTest, CheckRepliesWriteIntegersOfEveryMagnitude) {
  for (int64_t limit :
       std::vector<int64_t>{1, 9, 10, 99, 100, 999, 1000, 9999, 10000,
                            123456789, int64_t{1} << 40}) {
    checker_.SetRules(RuleIndex::Build({ClientRule(limit, limit)}, 8), now_);
    const std::string client = "m" + std::to_string(limit);
    const std::string reply =
        Run({"RL.CHECK", "api", "1", "client_id", client});
    const std::string remaining = std::to_string(limit - 1);
    EXPECT_EQ(reply.rfind("*5\r\n:1\r\n:" + std::to_string(limit) +
                              "\r\n:" + remaining + "\r\n:",
                          0),
              0u)
        << reply;
    EXPECT_EQ(reply.substr(reply.size() - 4), ":0\r\n") << reply;
  }
  // Words cased any way are the same command; near misses are not.
  for (std::string_view name : {"RL.CHECK", "rl.check", "rL.cHeCk"}) {
    EXPECT_EQ(Run({name, "api", "0", "client_id", "m"}).rfind("*5", 0), 0u);
  }
  for (std::string_view name :
       {"RL\x0e"
        "CHECK",
        "RL.CHECKS", "RLXCHECK", "RL.CHEC", "RL.CHE\x03K"}) {
    EXPECT_EQ(
        Run({name, "api", "0", "client_id", "m"}).rfind("-ERR unknown", 0), 0u)
        << name;
  }
}

TEST_F(CommandHandlerTest, CheckArityErrorsSayWhatIsExpected) {
  const std::string expected =
      "-ERR wrong number of arguments for 'rl.check' command: expected "
      "RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]\r\n";
  EXPECT_EQ(Run({"RL.CHECK"}), expected);
  EXPECT_EQ(Run({"RL.CHECK", "api", "1"}), expected);
  EXPECT_EQ(Run({"RL.CHECK", "api", "1", "client_id"}), expected);
  EXPECT_EQ(Run({"RL.CHECK", "api", "1", "a", "b", "c"}), expected);
}

TEST_F(CommandHandlerTest, CostMustBeANonNegativeInteger) {
  for (std::string_view cost : {"-1", "abc", "", "1.5", "+1", " 1",
                                "99999999999999999999", "9007199254740993"}) {
    std::string out = Run({"RL.CHECK", "api", cost, "client_id", "a"});
    EXPECT_EQ(out.rfind("-ERR invalid cost", 0), 0u) << cost << ": " << out;
    EXPECT_NE(out.find("non-negative integer"), std::string::npos);
  }
  EXPECT_EQ(Run({"RL.CHECK", "api", "9007199254740992", "client_id", "a"})
                .substr(0, 4),
            "*5\r\n");
}

TEST_F(CommandHandlerTest, ErrorsNeverCarryClientLineBreaks) {
  std::string out = Run({"RL.CHECK", "api", "1\r\n+OK", "client_id", "a"});
  EXPECT_EQ(out.find("\r\n"), out.size() - 2) << out;
  out = Run({"NO\r\nSUCH"});
  EXPECT_EQ(out.find("\r\n"), out.size() - 2) << out;
}

TEST_F(CommandHandlerTest, UnknownCommandIsNamed) {
  std::string out = Run({"FLUSHALL", "x"});
  EXPECT_EQ(out.rfind("-ERR unknown command 'FLUSHALL'", 0), 0u) << out;
  EXPECT_NE(out.find("RL.CHECK"), std::string::npos);
}

TEST_F(CommandHandlerTest, BucketCapErrorNamesTheFlag) {
  Checker small(1);
  small.SetRules(RuleIndex::Build({ClientRule(10, 2)}, 1), now_);
  CommandHandler handler(&small);
  std::string out;
  handler.Execute({"RL.CHECK", "api", "1", "client_id", "a"}, now_, 1, &out);
  out.clear();
  handler.Execute({"RL.CHECK", "api", "1", "client_id", "b"}, now_, 1, &out);
  EXPECT_EQ(out.rfind("-ERR bucket limit reached", 0), 0u) << out;
  EXPECT_NE(out.find("--max-buckets"), std::string::npos);
}

TEST_F(CommandHandlerTest, PingEchoQuit) {
  EXPECT_EQ(Run({"PING"}), "+PONG\r\n");
  EXPECT_EQ(Run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Run({"PING", "a", "b"}).rfind("-ERR wrong number", 0), 0u);
  EXPECT_EQ(Run({"ECHO", ""}), "$0\r\n\r\n");
  EXPECT_EQ(Run({"QUIT"}), "+OK\r\n");
  EXPECT_EQ(last_.action, CommandHandler::Action::kClose);
}

TEST_F(CommandHandlerTest, HelloSpeaksResp2Only) {
  std::string hello = Run({"HELLO"});
  EXPECT_EQ(hello.rfind("*14\r\n$6\r\nserver\r\n$6\r\nsluice\r\n", 0), 0u);
  EXPECT_NE(hello.find("$5\r\nproto\r\n:2\r\n"), std::string::npos);
  EXPECT_NE(hello.find("$2\r\nid\r\n:42\r\n"), std::string::npos);
  EXPECT_EQ(Run({"HELLO", "2", "SETNAME", "x"}), hello);
  EXPECT_EQ(Run({"HELLO", "2", "AUTH", "default", "pw"}), hello);
  EXPECT_EQ(Run({"HELLO", "3"}).rfind("-NOPROTO", 0), 0u);
  EXPECT_EQ(Run({"HELLO", "x"}).rfind("-ERR protocol version", 0), 0u);
  EXPECT_EQ(Run({"HELLO", "2", "BOGUS"}).rfind("-ERR syntax error", 0), 0u);
}

TEST_F(CommandHandlerTest, CommandAndConfigGetAreEnoughForRedisTools) {
  EXPECT_EQ(Run({"COMMAND"}), "*0\r\n");
  EXPECT_EQ(Run({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(Run({"COMMAND", "COUNT"}), ":0\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(Run({"config", "get", "appendonly"}),
            "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "maxmemory"}), "*0\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "save", "appendonly"}).substr(0, 4),
            "*4\r\n");
  EXPECT_EQ(Run({"CONFIG", "SET", "save", ""}).rfind("-ERR", 0), 0u);
  EXPECT_EQ(Run({"CONFIG", "GET"}).rfind("-ERR wrong number", 0), 0u);
  EXPECT_EQ(Run({"CLIENT", "SETINFO", "LIB-NAME", "x"}), "+OK\r\n");
  EXPECT_EQ(Run({"CLIENT", "ID"}), ":42\r\n");
}

TEST_F(CommandHandlerTest, InfoReportsAgentState) {
  Run({"RL.CHECK", "api", "1", "client_id", "a"});
  std::string out = Run({"RL.INFO"});
  EXPECT_EQ(out[0], '$');
  for (const char* line :
       {"rules_version:7\r\n", "rules:1\r\n", "controller_reachable:1\r\n",
        "buckets:1\r\n", "max_buckets:1000\r\n", "leases:0\r\n",
        "pending_lease_requests:1\r\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " in " << out;
  }
}

TEST_F(CommandHandlerTest, AcquireAnswersAtOnceWhenTokensAreThere) {
  EXPECT_EQ(Run({"RL.ACQUIRE", "api", "1", "500", "client_id", "a"}),
            "*5\r\n:1\r\n:10\r\n:1\r\n:100\r\n:0\r\n");
}

TEST_F(CommandHandlerTest, AcquireWaitsThenTakes) {
  Run({"RL.CHECK", "api", "2", "client_id", "a"});
  std::vector<std::string_view> args = {"RL.ACQUIRE", "api",       "1",
                                        "500",        "client_id", "a"};
  EXPECT_EQ(Run(args), "");
  ASSERT_EQ(last_.action, CommandHandler::Action::kWait);
  EXPECT_EQ(last_.wake_at, now_ + 100 * kMs);
  EXPECT_EQ(last_.deadline, now_ + 500 * kMs);
  now_ = last_.wake_at;
  std::string out;
  CommandHandler::Outcome next =
      handler_.ResumeAcquire(args, now_, last_.deadline, &out);
  EXPECT_EQ(next.action, CommandHandler::Action::kContinue);
  EXPECT_EQ(out, "*5\r\n:1\r\n:10\r\n:0\r\n:200\r\n:0\r\n");
  EXPECT_EQ(checker_.decision_counts()[0].allowed, 2);
  EXPECT_EQ(checker_.decision_counts()[0].refused, 0);
}

TEST_F(CommandHandlerTest, AcquireGivesUpAtItsDeadline) {
  Run({"RL.CHECK", "api", "2", "client_id", "a"});
  std::vector<std::string_view> args = {"RL.ACQUIRE", "api",       "2",
                                        "50",         "client_id", "a"};
  Run(args);
  ASSERT_EQ(last_.action, CommandHandler::Action::kWait);
  EXPECT_EQ(last_.wake_at, now_ + 50 * kMs);  // not later than the deadline
  now_ = last_.wake_at;
  std::string out;
  CommandHandler::Outcome next =
      handler_.ResumeAcquire(args, now_, last_.deadline, &out);
  EXPECT_EQ(next.action, CommandHandler::Action::kContinue);
  EXPECT_EQ(out.substr(0, 8), "*5\r\n:0\r\n");
  EXPECT_EQ(checker_.decision_counts()[0].refused, 1);  // counted once
}

TEST_F(CommandHandlerTest, AcquireThatCanNeverSucceedAnswersAtOnce) {
  std::string out = Run({"RL.ACQUIRE", "api", "3", "1000", "client_id", "a"});
  EXPECT_EQ(last_.action, CommandHandler::Action::kContinue);
  EXPECT_EQ(out, "*5\r\n:0\r\n:10\r\n:2\r\n:0\r\n:-1\r\n");
  EXPECT_EQ(checker_.decision_counts()[0].refused, 1);
}

TEST_F(CommandHandlerTest, WaitingAcquireKeepsAskingForALease) {
  // The controller grants nothing twice (a lease of 0 tokens): the
  // RL.ACQUIRE still waiting must ask again, or it can only time out.
  // (Two agents, and a cost of 2: more than a safe share of 1 token can
  // hold, so only a lease can pay; the only agent's share would.)
  checker_.SetLeaseContext(LeaseContext{true, 2});
  auto grant_nothing = [this] {
    std::vector<LeaseWant> wants;
    checker_.TakeLeaseWants(now_, &wants);
    LeaseGrant grant;
    for (const LeaseWant& want : wants) {
      grant.items.push_back(LeaseGrantItem{want.rule_id, want.values, 0, 5000});
    }
    checker_.ApplyGrant(grant, now_, now_);
    return wants.size();
  };
  Run({"RL.CHECK", "api", "2", "client_id", "a"});
  EXPECT_EQ(grant_nothing(), 1u);
  now_ += 100 * kMs;
  std::vector<std::string_view> args = {"RL.ACQUIRE", "api",       "2",
                                        "2000",       "client_id", "a"};
  Run(args);
  ASSERT_EQ(last_.action, CommandHandler::Action::kWait);
  EXPECT_EQ(grant_nothing(), 1u);  // the first attempt asked
  now_ = last_.wake_at;
  std::string out;
  CommandHandler::Outcome next =
      handler_.ResumeAcquire(args, now_, last_.deadline, &out);
  ASSERT_EQ(next.action, CommandHandler::Action::kWait);
  EXPECT_EQ(grant_nothing(), 1u);  // and so does the retry
}

TEST_F(CommandHandlerTest, AcquireArgumentErrors) {
  EXPECT_EQ(Run({"RL.ACQUIRE", "api", "1", "client_id", "a"})
                .rfind("-ERR wrong number of arguments for 'rl.acquire'", 0),
            0u);
  EXPECT_EQ(Run({"RL.ACQUIRE", "api", "1", "-5", "client_id", "a"})
                .rfind("-ERR invalid timeout_ms", 0),
            0u);
  EXPECT_EQ(Run({"RL.ACQUIRE", "api", "x", "5", "client_id", "a"})
                .rfind("-ERR invalid cost", 0),
            0u);
}

}  // namespace
}  // namespace sluice
