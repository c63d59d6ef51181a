// The real Boost.Asio server on a temporary Unix socket (and a TCP port),
// in-process, with a rule index installed directly (no controller), driven
// by a real Redis client (hiredis), by raw sockets for malformed input, and
// by redis-cli / redis-benchmark when they are installed.
//
// Time: the server and its buckets read a SimulatedClock that moves only
// when a test moves it, so buckets never refill behind a test's back and an
// RL.ACQUIRE ends exactly when the test's clock reaches its token or its
// timeout, however busy the machine. Wall time only bounds how long a test
// waits for a reply (hiredis timeout) or gives the server to react.
#include "agent/server/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command_handler.h"
#include "platform/system_clock.h"
#include "tests/agent/allocation_counter.h"
#include "tests/agent/hiredis_client.h"
#include "tests/agent/server/server_fixture.h"
#include "tests/support/simulated_clock.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

using testing::Append;
using testing::Command;
using testing::FlushPipeline;
using testing::GetReply;
using testing::Integers;
using testing::Redis;
using testing::Reply;

std::string ReplyString(const redisReply* r) {
  if (r == nullptr) return "<no reply>";
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR) {
    return std::string(r->str, r->len);
  }
  return "<type " + std::to_string(r->type) + ">";
}

// --- raw sockets, for what a well-behaved client never sends ---

int ConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until the peer closes (true) or `timeout` passes (false).
bool ReadUntilClosed(int fd, std::string* out,
                     milliseconds timeout = milliseconds(5000)) {
  const auto deadline = SteadyClock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    out->append(buf, static_cast<size_t>(n));
  }
}

// Reads until `out` holds at least `size` bytes (true) or a timeout.
bool ReadAtLeast(int fd, size_t size, std::string* out) {
  const auto deadline = SteadyClock::now() + milliseconds(5000);
  char buf[4096];
  while (out->size() < size && SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
  return out->size() >= size;
}

// Standard output of a shell command (empty when it could not run).
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

// Whether the server has written anything to `c` within `wait` (hiredis
// reads only when asked, so pending replies are still in the socket).
bool Readable(redisContext* c, milliseconds wait) {
  pollfd p{c->fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

class ServerTest : public testing::ServerFixture {
 protected:
  ServerTest() { clock_ = &sim_; }

  // A hiredis connection whose replies are awaited for 10 s at most.
  Redis Connect() {
    Redis c(redisConnectUnix(socket_path().c_str()));
    EXPECT_TRUE(c != nullptr && c->err == 0) << (c ? c->errstr : "no context");
    if (c != nullptr) {
      EXPECT_EQ(redisSetTimeout(c.get(), {10, 0}), REDIS_OK);
    }
    return c;
  }

  size_t Connections() { return ServerFixture::Connections(server_); }

  testing::SimulatedClock sim_;
};

TEST_F(ServerTest, AnswersPingAndChecks) {
  Redis c = Connect();
  Reply r = Command(c.get(), {"PING"});
  EXPECT_EQ(ReplyString(r.get()), "PONG");
  r = Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "42"});
  EXPECT_EQ(Integers(r.get()), (std::vector<long long>{1, 10, 4, 100, 0}));
  r = Command(c.get(), {"RL.CHECK", "api", "1", "route", "/x"});
  EXPECT_EQ(Integers(r.get()), (std::vector<long long>{1, -1, -1, 0, 0}));
}

TEST_F(ServerTest, SocketFileHasMode0660) {
  struct stat st;
  ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(ServerTest, AnswersOverTcpToo) {
  const uint16_t port = OnIo([this] { return server_->tcp_port(); });
  ASSERT_NE(port, 0);
  Redis c(redisConnect("127.0.0.1", port));
  ASSERT_TRUE(c && c->err == 0);
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING", "tcp"}).get()), "tcp");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Redis c = Connect();
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    if (i % 2 == 0) {
      Append(c.get(), {"RL.CHECK", "slow", "1", "client_id", "pipe"});
    } else {
      Append(c.get(), {"ECHO", std::to_string(i)});
    }
  }
  int allowed = 0;
  for (int i = 0; i < kRequests; ++i) {
    Reply r = GetReply(c.get());
    ASSERT_NE(r, nullptr);
    if (i % 2 == 0) {
      std::vector<long long> v = Integers(r.get());
      ASSERT_EQ(v.size(), 5u);
      allowed += static_cast<int>(v[0]);
    } else {
      EXPECT_EQ(ReplyString(r.get()), std::to_string(i));
    }
  }
  EXPECT_EQ(allowed, 5);  // the burst, no more
}

TEST_F(ServerTest, ChecksOfKnownBucketsAllocateNothingOnTheEventLoop) {
  // Several clients, each with a read pending between its requests (Asio
  // recycles the memory of a couple of operations per thread by itself,
  // not of one per connection).
  std::vector<Redis> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(Connect());
  // Rounds of pipelined checks over a few buckets, each round read back
  // before the next: every round is new reads, parses, checks and writes.
  auto round = [&clients] {
    for (Redis& c : clients) {
      for (int i = 0; i < 10; ++i) {
        Append(c.get(), {"RL.CHECK", "api", "1", "client_id",
                         std::string(1, static_cast<char>('a' + i % 5))});
      }
    }
    // All of them send before any reply is read: the server finds many
    // connections readable at once, as under load.
    for (Redis& c : clients) {
      int done = 0;
      while (done == 0) ASSERT_EQ(redisBufferWrite(c.get(), &done), REDIS_OK);
    }
    for (Redis& c : clients) {
      for (int i = 0; i < 10; ++i) {
        Reply r = GetReply(c.get());
        ASSERT_NE(r, nullptr);
        ASSERT_EQ(Integers(r.get()).size(), 5u);
      }
    }
  };
  for (int i = 0; i < 20; ++i) round();  // buckets known, buffers grown
  const int64_t before = OnIo([] { return testing::ThreadAllocations(); });
  for (int i = 0; i < 100; ++i) round();
  const int64_t after = OnIo([] { return testing::ThreadAllocations(); });
  EXPECT_EQ(after - before, 0) << "allocations on the event loop for 8000 "
                                  "checks of known buckets";
}

TEST_F(ServerTest, BadArgumentsGetAnErrorAndTheConnectionStaysUsable) {
  Redis c = Connect();
  const std::vector<std::vector<std::string>> bad = {
      {"RL.CHECK", "api"},
      {"RL.CHECK", "api", "1", "client_id"},
      {"RL.CHECK", "api", "-1", "client_id", "a"},
      {"RL.CHECK", "api", "many", "client_id", "a"},
      {"NOSUCHCOMMAND"},
      {"RL.ACQUIRE", "api", "1", "x", "client_id", "a"}};
  for (const auto& args : bad) {
    Reply r = Command(c.get(), args);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << args[0];
    EXPECT_EQ(ReplyString(r.get()).rfind("ERR ", 0), 0u);
  }
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
}

TEST_F(ServerTest, MalformedFrameClosesOnlyThatConnection) {
  Redis good = Connect();
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "PING\r\n*1\r\n$x\r\nPING\r\n"));
  std::string got;
  ASSERT_TRUE(ReadUntilClosed(fd, &got));
  ::close(fd);
  EXPECT_EQ(got.rfind("+PONG\r\n-ERR Protocol error: invalid bulk length", 0),
            0u)
      << got;
  EXPECT_EQ(got.find("PONG", 5), std::string::npos);  // nothing after it
  EXPECT_EQ(ReplyString(Command(good.get(), {"PING"}).get()), "PONG");
}

TEST_F(ServerTest, AbsurdLengthsCloseTheConnectionAtOnce) {
  for (const char* header : {"*100000000\r\n", "*1\r\n$999999999999\r\n",
                             "*2\r\n$4\r\nECHO\r\n$70000\r\n"}) {
    int fd = ConnectUnix(socket_path());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, header));
    std::string got;
    EXPECT_TRUE(ReadUntilClosed(fd, &got)) << header;
    ::close(fd);
    EXPECT_EQ(got.rfind("-ERR Protocol error", 0), 0u) << got;
  }
  Redis c = Connect();
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
}

TEST_F(ServerTest, OversizedInlineRequestClosesTheConnection) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  SendAll(fd, std::string(70000, 'a'));  // no line end, over 64 KiB
  std::string got;
  EXPECT_TRUE(ReadUntilClosed(fd, &got));
  ::close(fd);
  EXPECT_EQ(got.rfind("-ERR Protocol error: inline request longer", 0), 0u)
      << got;
}

TEST_F(ServerTest, PartialFramesAreAssembled) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  const std::string stream =
      "*5\r\n$8\r\nRL.CHECK\r\n$3\r\napi\r\n$1\r\n1\r\n$9\r\nclient_id\r\n"
      "$7\r\npartial\r\nPING\r\n";
  for (char ch : stream) ASSERT_TRUE(SendAll(fd, std::string(1, ch)));
  const std::string expected =
      "*5\r\n:1\r\n:10\r\n:4\r\n:100\r\n:0\r\n+PONG\r\n";
  std::string got;
  EXPECT_TRUE(ReadAtLeast(fd, expected.size(), &got));
  EXPECT_EQ(got, expected);
  ::close(fd);
}

TEST_F(ServerTest, InlineCommandsWork) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "PING\r\nECHO \"a b\"\nQUIT\r\n"));
  std::string got;
  EXPECT_TRUE(ReadUntilClosed(fd, &got));
  EXPECT_EQ(got, "+PONG\r\n$3\r\na b\r\n+OK\r\n");
  ::close(fd);
}

TEST_F(ServerTest, QuitClosesAfterTheReply) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n"));
  std::string got;
  EXPECT_TRUE(ReadUntilClosed(fd, &got));
  EXPECT_EQ(got, "+OK\r\n");  // the PING after QUIT is not answered
  ::close(fd);
}

TEST_F(ServerTest, RandomBytesNeverHurtTheServer) {
  std::mt19937 rng(99);
  for (int round = 0; round < 20; ++round) {
    int fd = ConnectUnix(socket_path());
    ASSERT_GE(fd, 0);
    std::string junk(1 + rng() % 20000, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng() % 256);
    SendAll(fd, junk);
    ::shutdown(fd, SHUT_WR);
    std::string got;
    EXPECT_TRUE(ReadUntilClosed(fd, &got)) << "round " << round;
    ::close(fd);
  }
  Redis c = Connect();
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
}

TEST_F(ServerTest, ThousandsOfConnectionsOpenedAndDropped) {
  for (int i = 0; i < 2000; ++i) {
    int fd = ConnectUnix(socket_path());
    ASSERT_GE(fd, 0) << i;
    if (i % 3 == 1) SendAll(fd, "*2\r\n$4\r\nECHO\r\n$10\r\nabc");  // partial
    if (i % 3 == 2) SendAll(fd, "PING\r\n");
    ::close(fd);
  }
  Redis c = Connect();
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
  const auto deadline = SteadyClock::now() + milliseconds(5000);
  while (Connections() > 1 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(Connections(), 1u);
}

TEST_F(ServerTest, ClientThatNeverReadsIsDropped) {
  ServerOptions options;
  options.socket_path = dir_ + "/slow.sock";
  options.max_output_bytes = 64 * 1024;
  Server* slow = StartServer(options);
  ASSERT_NE(slow, nullptr);
  int fd = ConnectUnix(options.socket_path);
  ASSERT_GE(fd, 0);
  std::string pings;
  for (int i = 0; i < 10000; ++i) pings += "PING\r\n";
  size_t sent = 0;
  bool dropped = false;
  while (sent < 200u * 1024 * 1024) {  // a dropped client fails long before
    if (!SendAll(fd, pings)) {
      dropped = true;
      break;
    }
    sent += pings.size();
  }
  EXPECT_TRUE(dropped) << "sent " << sent << " bytes without being dropped";
  ::close(fd);
  StopServer(slow);
  Redis c = Connect();
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreRefused) {
  ServerOptions options;
  options.socket_path = dir_ + "/few.sock";
  options.max_connections = 2;
  Server* extra = StartServer(options);
  ASSERT_NE(extra, nullptr);
  std::vector<Redis> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(redisConnectUnix(options.socket_path.c_str()));
    EXPECT_EQ(ReplyString(Command(held.back().get(), {"PING"}).get()), "PONG");
  }
  int fd = ConnectUnix(options.socket_path);
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadUntilClosed(fd, &got));
  ::close(fd);
  EXPECT_EQ(got, "-ERR max number of clients reached\r\n");
}

TEST_F(ServerTest, AcquireWaitsWithoutBlockingOtherClients) {
  Redis waiter = Connect();
  Redis other = Connect();
  // Empty the bucket: the next token comes 100 ms later (10 a second).
  Command(waiter.get(), {"RL.CHECK", "api", "5", "client_id", "w"});
  Append(waiter.get(), {"RL.ACQUIRE", "api", "1", "2000", "client_id", "w"});
  Append(waiter.get(), {"PING", "after"});  // pipelined behind the wait
  FlushPipeline(waiter.get());
  // Another client is answered while the waiter waits...
  EXPECT_EQ(ReplyString(Command(other.get(), {"PING"}).get()), "PONG");
  // ...and the waiter waits for as long as no token is due: nothing comes
  // while the clock stands still (150 ms of wall time: the server's timer,
  // armed for 100 ms, has looked at the clock again), nor 1 ms early.
  EXPECT_FALSE(Readable(waiter.get(), milliseconds(150)));
  sim_.AdvanceMillis(99);
  EXPECT_FALSE(Readable(waiter.get(), milliseconds(150)));
  sim_.AdvanceMillis(1);
  Reply acquired = GetReply(waiter.get());
  std::vector<long long> v = Integers(acquired.get());
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v, (std::vector<long long>{1, 10, 0, 500, 0}));
  EXPECT_EQ(ReplyString(GetReply(waiter.get()).get()), "after");
}

TEST_F(ServerTest, AcquireGivesUpAtItsTimeout) {
  Redis c = Connect();
  Command(c.get(), {"RL.CHECK", "api", "5", "client_id", "t"});
  // 5 tokens come 500 ms after the bucket was emptied; the caller waits
  // 30 ms at most.
  Append(c.get(), {"RL.ACQUIRE", "api", "5", "30", "client_id", "t"});
  FlushPipeline(c.get());
  EXPECT_FALSE(Readable(c.get(), milliseconds(100)));
  sim_.AdvanceMillis(29);
  EXPECT_FALSE(Readable(c.get(), milliseconds(100)));
  sim_.AdvanceMillis(1);  // its timeout: refused, 470 ms before the tokens
  Reply r = GetReply(c.get());
  // 0.3 tokens are back: full, and 5 available, in 470 ms.
  EXPECT_EQ(Integers(r.get()), (std::vector<long long>{0, 10, 0, 470, 470}));
  // Timeout 0: a plain check.
  r = Command(c.get(), {"RL.ACQUIRE", "api", "5", "0", "client_id", "t"});
  EXPECT_EQ(Integers(r.get()).at(0), 0);
}

TEST_F(ServerTest, StaleSocketFileIsReplaced) {
  const std::string path = dir_ + "/stale.sock";
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);  // leaves the file, nobody listening
  }
  ServerOptions options;
  options.socket_path = path;
  Server* extra = StartServer(options);
  ASSERT_NE(extra, nullptr);
  Redis c(redisConnectUnix(path.c_str()));
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");
  // Stop removes the socket file.
  StopServer(extra);
  struct stat st;
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
}

TEST_F(ServerTest, LiveSocketOrOtherFileIsNotTakenOver) {
  ServerOptions options;
  options.socket_path = socket_path();  // our live server
  Status status;
  EXPECT_EQ(StartServer(options, &status), nullptr);
  EXPECT_NE(status.message().find("another process is listening"),
            std::string::npos)
      << status.ToString();
  Redis c = Connect();
  EXPECT_EQ(ReplyString(Command(c.get(), {"PING"}).get()), "PONG");

  options.socket_path = dir_ + "/regular-file";
  std::ofstream(options.socket_path) << "data";
  EXPECT_EQ(StartServer(options, &status), nullptr);
  EXPECT_NE(status.message().find("is not a socket"), std::string::npos)
      << status.ToString();
}

TEST_F(ServerTest, RedisCliWorks) {
  if (::access("/usr/bin/redis-cli", X_OK) != 0) {
    GTEST_SKIP() << "redis-cli not installed";
  }
  const std::string cli = "/usr/bin/redis-cli -s " + socket_path() + " ";
  EXPECT_EQ(Shell(cli + "PING"), "PONG\n");
  EXPECT_EQ(Shell(cli + "RL.CHECK api 1 client_id cli"), "1\n10\n4\n100\n0\n");
  EXPECT_EQ(Shell(cli + "RL.CHECK api 1 client_id")
                .rfind("ERR wrong number of arguments for 'rl.check' command: "
                       "expected RL.CHECK <domain> <cost> <key> <value> "
                       "[<key> <value> ...]\n",
                       0),
            0u);
  EXPECT_NE(Shell(cli + "RL.INFO").find("rules_version:1"), std::string::npos);
  EXPECT_EQ(Shell(cli + "HELLO 3").rfind("NOPROTO", 0), 0u);
}

TEST_F(ServerTest, RedisBenchmarkRunsAgainstIt) {
  if (::access("/usr/bin/redis-benchmark", X_OK) != 0) {
    GTEST_SKIP() << "redis-benchmark not installed";
  }
  const std::string out =
      Shell("/usr/bin/redis-benchmark -s " + socket_path() +
            " -n 5000 -c 5 -P 16 -r 1000 --csv RL.CHECK api 1 client_id "
            "__rand_int__ 2>&1");
  EXPECT_NE(out.find("\"RL.CHECK api 1 client_id __rand_int__\""),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("WARNING"), std::string::npos) << out;
  EXPECT_EQ(out.find("ERR"), std::string::npos) << out;
}

// The server runs the requests of all connections read in one round of
// the event loop as one batch (parsed and prepared ahead, then run): every
// connection still gets its replies in order, and buckets shared across
// connections give out exactly their tokens.
TEST_F(ServerTest, ConcurrentPipelinesShareBucketsExactly) {
  constexpr int kConnections = 20;
  constexpr int kRequests = 60;
  std::vector<Redis> clients;
  for (int c = 0; c < kConnections; ++c) clients.push_back(Connect());
  for (int c = 0; c < kConnections; ++c) {
    for (int i = 0; i < kRequests; ++i) {
      switch (i % 3) {
        case 0:  // one bucket for everyone
          Append(clients[c].get(),
                 {"RL.CHECK", "slow", "1", "client_id", "shared"});
          break;
        case 1:  // a bucket per connection
          Append(clients[c].get(), {"RL.CHECK", "slow", "1", "client_id",
                                    "own-" + std::to_string(c)});
          break;
        default:
          Append(clients[c].get(), {"ECHO", std::to_string(c * 1000 + i)});
      }
    }
  }
  for (auto& client : clients) FlushPipeline(client.get());
  int shared_allowed = 0;
  for (int c = 0; c < kConnections; ++c) {
    int own_allowed = 0;
    for (int i = 0; i < kRequests; ++i) {
      Reply r = GetReply(clients[c].get());
      ASSERT_NE(r, nullptr);
      if (i % 3 == 2) {
        ASSERT_EQ(ReplyString(r.get()), std::to_string(c * 1000 + i));
        continue;
      }
      std::vector<long long> v = Integers(r.get());
      ASSERT_EQ(v.size(), 5u) << "connection " << c << " request " << i;
      (i % 3 == 0 ? shared_allowed : own_allowed) += static_cast<int>(v[0]);
    }
    EXPECT_EQ(own_allowed, 5) << "connection " << c;  // its burst
  }
  EXPECT_EQ(shared_allowed, 5);  // the shared burst, no more
}

// Requests pipelined behind a waiting RL.ACQUIRE were already parsed (and
// prepared) with the batch they arrived in; they run, in order, after it.
TEST_F(ServerTest, ChecksPipelinedBehindAWaitingAcquireRunAfterIt) {
  Redis waiter = Connect();
  Redis other = Connect();
  Command(waiter.get(), {"RL.CHECK", "api", "5", "client_id", "w2"});
  Append(waiter.get(), {"RL.CHECK", "api", "0", "client_id", "w2"});
  Append(waiter.get(), {"RL.ACQUIRE", "api", "1", "2000", "client_id", "w2"});
  Append(waiter.get(), {"RL.CHECK", "api", "1", "client_id", "w2"});
  Append(waiter.get(), {"RL.CHECK", "api", "1", "client_id", "after"});
  Append(waiter.get(), {"ECHO", "last"});
  FlushPipeline(waiter.get());
  Append(other.get(), {"RL.CHECK", "api", "1", "client_id", "o"});
  Append(other.get(), {"PING"});
  FlushPipeline(other.get());
  EXPECT_EQ(Integers(GetReply(other.get()).get()).at(0), 1);
  EXPECT_EQ(ReplyString(GetReply(other.get()).get()), "PONG");
  // The peek's reply comes before the wait's: once it is here, the batch
  // ran and the RL.ACQUIRE waits (the clock must not move before).
  std::vector<long long> peek = Integers(GetReply(waiter.get()).get());
  ASSERT_EQ(peek.size(), 5u);
  EXPECT_EQ(peek[2], 0);    // empty before the wait
  sim_.AdvanceMillis(100);  // the token the RL.ACQUIRE waits for
  std::vector<long long> acquired = Integers(GetReply(waiter.get()).get());
  ASSERT_EQ(acquired.size(), 5u);
  EXPECT_EQ(acquired[0], 1);
  // Checked after the wait: the token the acquire took is gone.
  std::vector<long long> behind = Integers(GetReply(waiter.get()).get());
  ASSERT_EQ(behind.size(), 5u);
  EXPECT_EQ(behind[0], 0);
  EXPECT_EQ(Integers(GetReply(waiter.get()).get()).at(0), 1);
  EXPECT_EQ(ReplyString(GetReply(waiter.get()).get()), "last");
}

// Empty requests ("*0") skipped in one read, before a request completed
// only by the next read.
TEST_F(ServerTest, EmptyRequestsBeforeAPartialFrameAreSkipped) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "*0\r\n*-1\r\n*1\r\n$4\r\nPI"));
  std::this_thread::sleep_for(milliseconds(50));  // read separately
  ASSERT_TRUE(SendAll(fd, "NG\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n"));
  std::string got;
  EXPECT_TRUE(ReadAtLeast(fd, 15, &got));
  EXPECT_EQ(got, "+PONG\r\n$2\r\nok\r\n");
  ::close(fd);
}

// Valid requests ahead of a malformed frame in the same read are answered,
// then the error, then the connection closes.
TEST_F(ServerTest, RequestsBeforeABadFrameInTheSameReadAreAnswered) {
  int fd = ConnectUnix(socket_path());
  ASSERT_GE(fd, 0);
  const std::string check =
      "*5\r\n$8\r\nRL.CHECK\r\n$3\r\napi\r\n$1\r\n1\r\n$9\r\n"
      "client_id\r\n$3\r\nbad\r\n";
  ASSERT_TRUE(SendAll(fd, check + check + "*1\r\n$x\r\n" + check));
  std::string got;
  ASSERT_TRUE(ReadUntilClosed(fd, &got));
  ::close(fd);
  EXPECT_EQ(got.rfind("*5\r\n:1\r\n:10\r\n:4\r\n:100\r\n:0\r\n"
                      "*5\r\n:1\r\n:10\r\n:3\r\n",
                      0),
            0u)
      << got;
  const size_t error = got.find("-ERR Protocol error: invalid bulk length");
  ASSERT_NE(error, std::string::npos) << got;
  EXPECT_EQ(got.find("*5", error), std::string::npos);  // nothing after it
}

}  // namespace
}  // namespace sluice
