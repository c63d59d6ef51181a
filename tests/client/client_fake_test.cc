// Client behaviours that are the client's own, against FakeAgent: the
// failure policy on a timeout, a dead agent, a malformed reply or a broken
// connection; back-off; -ERR; pooling; pipelined batches.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "sluice/client.h"
#include "tests/client/fake_agent.h"

namespace sluice::client {
namespace {

using std::chrono::milliseconds;
using testing::FakeAction;
using testing::FakeAgent;

ClientOptions Options(const std::string& path, FailurePolicy policy) {
  ClientOptions options;
  options.socket_path = path;
  options.failure_policy = policy;
  options.call_timeout = milliseconds(100);
  options.connect_timeout = milliseconds(100);
  options.retry_after_failure = milliseconds(0);
  return options;
}

FakeAgent::Respond Always(const std::string& reply) {
  return [reply](int, const std::vector<std::string>&) {
    return FakeAction{reply, false};
  };
}

TEST(ClientFakeTest, DecisionComesFromTheReplyAndTheRequestIsRlCheck) {
  std::vector<std::string> seen;
  FakeAgent agent([&](int, const std::vector<std::string>& args) {
    seen = args;
    return FakeAction{FakeAgent::Reply(0, 5, 0, 60000, 1234)};
  });
  Client client(Options(agent.socket_path(), FailurePolicy::kOpen));
  Decision d = client.Check("api", 2, {{"client_id", "42"}, {"route", "/x"}});
  EXPECT_TRUE(d.from_agent());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 5);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset_after_ms, 60000);
  EXPECT_EQ(d.retry_after_ms, 1234);
  EXPECT_EQ(seen, (std::vector<std::string>{"RL.CHECK", "api", "2", "client_id",
                                            "42", "route", "/x"}));
  EXPECT_EQ(client.stats().refused, 1u);
}

TEST(ClientFakeTest, ConnectionsAreReusedFromThePool) {
  FakeAgent agent(Always(FakeAgent::Reply(1, -1, -1, 0, 0)));
  Client client(Options(agent.socket_path(), FailurePolicy::kOpen));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.Check("api", 1, {{"k", "v"}}).from_agent());
  }
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(agent.connections(), 1);
  EXPECT_EQ(client.stats().allowed, 20u);
}

TEST(ClientFakeTest, TimeoutFailsClosedWithinTheCallTimeout) {
  FakeAgent agent(Always(""));  // reads, never answers
  Client client(Options(agent.socket_path(), FailurePolicy::kClosed));
  auto start = std::chrono::steady_clock::now();
  Decision d = client.Check("api", 1, {{"k", "v"}});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.error, Error::kTimeout) << d.error_message;
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_GE(took, milliseconds(90));
  EXPECT_LT(took, milliseconds(1000));
  ClientStats s = client.stats();
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.failed_closed, 1u);
  EXPECT_EQ(s.checks(), 1u);
}

TEST(ClientFakeTest, TimeoutFailsOpenWhenAskedTo) {
  FakeAgent agent(Always(""));
  Client client(Options(agent.socket_path(), FailurePolicy::kOpen));
  Decision d = client.Check("api", 1, {{"k", "v"}});
  EXPECT_EQ(d.error, Error::kTimeout);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(client.stats().failed_open, 1u);
}

TEST(ClientFakeTest, AfterATimeoutCallsBackOffWithoutContactingTheAgent) {
  FakeAgent agent(Always(""));
  ClientOptions options = Options(agent.socket_path(), FailurePolicy::kOpen);
  options.retry_after_failure = std::chrono::minutes(10);
  Client client(options);
  EXPECT_EQ(client.Check("api", 1, {{"k", "v"}}).error, Error::kTimeout);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    Decision d = client.Check("api", 1, {{"k", "v"}});
    EXPECT_EQ(d.error, Error::kBackingOff);
    EXPECT_TRUE(d.allowed);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(50));
  EXPECT_EQ(agent.requests(), 1);
  EXPECT_EQ(client.stats().backing_off, 5u);
  EXPECT_EQ(client.stats().failed_open, 6u);
}

TEST(ClientFakeTest, NoAgentIsUnreachable) {
  Client client(
      Options("/tmp/sluice-no-such-dir/agent.sock", FailurePolicy::kClosed));
  Decision d = client.Check("api", 1, {{"k", "v"}});
  EXPECT_EQ(d.error, Error::kUnreachable);
  EXPECT_NE(d.error_message.find("No such file"), std::string::npos)
      << d.error_message;
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(client.stats().unreachable, 1u);
  EXPECT_EQ(client.stats().failed_closed, 1u);
}

TEST(ClientFakeTest, ConnectWaitsAtMostTheConnectTimeout) {
  // A socket that listens but never accepts, its backlog already full.
  char tmpl[] = "/tmp/sluice-backlog.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/agent.sock";
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
      0);
  ASSERT_EQ(listen(listener, 0), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 8; ++i) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    fillers.push_back(fd);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
        0) {
      break;  // EAGAIN: the backlog is full
    }
  }
  Client client(Options(path, FailurePolicy::kOpen));
  auto start = std::chrono::steady_clock::now();
  Decision d = client.Check("api", 1, {{"k", "v"}});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.error, Error::kUnreachable) << d.error_message;
  EXPECT_GE(took, milliseconds(90));
  EXPECT_LT(took, milliseconds(1000));
  for (int fd : fillers) close(fd);
  close(listener);
  unlink(path.c_str());
  rmdir(tmpl);
}

TEST(ClientFakeTest, MalformedReplyIsAFailureAndDropsTheConnection) {
  FakeAgent agent([](int index, const std::vector<std::string>&) {
    return FakeAction{index == 0 ? "+OK\r\n"
                                 : FakeAgent::Reply(1, 3, 2, 100, 0)};
  });
  Client client(Options(agent.socket_path(), FailurePolicy::kClosed));
  Decision d = client.Check("api", 1, {{"k", "v"}});
  EXPECT_EQ(d.error, Error::kMalformedReply);
  EXPECT_NE(d.error_message.find("'+'"), std::string::npos) << d.error_message;
  EXPECT_FALSE(d.allowed);
  // The next call opens a fresh connection and is decided by the agent.
  Decision next = client.Check("api", 1, {{"k", "v"}});
  EXPECT_TRUE(next.from_agent()) << next.error_message;
  EXPECT_EQ(client.stats().malformed_replies, 1u);
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

TEST(ClientFakeTest, AgentClosingMidCallIsConnectionLost) {
  FakeAgent agent([](int, const std::vector<std::string>&) {
    return FakeAction{"*5\r\n:1\r\n", true};  // half a reply, then gone
  });
  Client client(Options(agent.socket_path(), FailurePolicy::kOpen));
  Decision d = client.Check("api", 1, {{"k", "v"}});
  EXPECT_EQ(d.error, Error::kConnectionLost) << d.error_message;
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(client.stats().connections_lost, 1u);
}

TEST(ClientFakeTest, AgentErrorIsDecidedByThePolicyAndKeepsTheConnection) {
  FakeAgent agent([](int index, const std::vector<std::string>&) {
    return FakeAction{index == 0 ? "-ERR invalid domain\r\n"
                                 : FakeAgent::Reply(1, 3, 2, 100, 0)};
  });
  ClientOptions options = Options(agent.socket_path(), FailurePolicy::kClosed);
  options.retry_after_failure = std::chrono::minutes(10);
  Client client(options);
  Decision d = client.Check("bad domain", 1, {{"k", "v"}});
  EXPECT_EQ(d.error, Error::kAgentError);
  EXPECT_NE(d.error_message.find("ERR invalid domain"), std::string::npos);
  EXPECT_FALSE(d.allowed);
  // No back-off after an -ERR, and the same connection goes on.
  EXPECT_TRUE(client.Check("api", 1, {{"k", "v"}}).from_agent());
  EXPECT_EQ(client.stats().agent_errors, 1u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST(ClientFakeTest, BatchIsOneWriteAndRepliesComeBackInOrder) {
  FakeAgent agent([](int index, const std::vector<std::string>& args) {
    // remaining = the request's number, limit = its cost
    return FakeAction{FakeAgent::Reply(index % 2 == 0 ? 1 : 0,
                                       std::stoi(args[2]), index, 0, 0)};
  });
  Client client(Options(agent.socket_path(), FailurePolicy::kOpen));
  std::vector<CheckRequest> requests;
  for (int i = 0; i < 50; ++i) {
    requests.push_back({"api", i + 1, {{"client_id", std::to_string(i)}}});
  }
  std::vector<Decision> out;
  client.CheckBatch(requests, &out);
  ASSERT_EQ(out.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(out[i].from_agent());
    EXPECT_EQ(out[i].allowed, i % 2 == 0);
    EXPECT_EQ(out[i].limit, i + 1);
    EXPECT_EQ(out[i].remaining, i);
  }
  EXPECT_EQ(client.stats().allowed, 25u);
  EXPECT_EQ(client.stats().refused, 25u);
}

TEST(ClientFakeTest, BatchCutShortFailsOnlyTheChecksWithoutAReply) {
  FakeAgent agent([](int index, const std::vector<std::string>&) {
    return FakeAction{index < 3 ? FakeAgent::Reply(1, 9, 8, 0, 0) : "",
                      index == 3};
  });
  Client client(Options(agent.socket_path(), FailurePolicy::kClosed));
  std::vector<CheckRequest> requests(6, {"api", 1, {{"k", "v"}}});
  std::vector<Decision> out;
  client.CheckBatch(requests, &out);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(out[i].from_agent()) << i;
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(out[i].error, Error::kConnectionLost) << i;
    EXPECT_FALSE(out[i].allowed);
  }
  EXPECT_EQ(client.stats().failed_closed, 3u);
}

TEST(ClientFakeTest, ManyThreadsShareTheClient) {
  FakeAgent agent(Always(FakeAgent::Reply(1, 100, 99, 0, 0)));
  ClientOptions options = Options(agent.socket_path(), FailurePolicy::kClosed);
  options.call_timeout = milliseconds(2000);
  Client client(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&client] {
      for (int i = 0; i < 200; ++i) client.Check("api", 1, {{"k", "v"}});
    });
  }
  for (std::thread& t : threads) t.join();
  ClientStats s = client.stats();
  EXPECT_EQ(s.allowed, 1600u);
  EXPECT_EQ(s.checks(), 1600u);
  EXPECT_LE(s.connections_opened, 8u);
}

}  // namespace
}  // namespace sluice::client
