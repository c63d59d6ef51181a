// Hostile clients against the real Boost.Asio server (agent/server/server.h),
// in-process on temporary Unix sockets, over raw sockets: broken frames,
// absurd lengths, random bytes, bad arguments, oversized frames, thousands
// of connections opened and dropped, clients that never read, and clients
// that hang up in the middle of an RL.ACQUIRE. In every case the server
// stays up, other connections go on, and nothing leaks (connections and
// the process's file descriptors return to their baseline).
//
// Nothing sleeps to wait for a condition: reads poll with deadlines, and
// server state is polled (Eventually) until a deadline.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command_handler.h"
#include "agent/server/server.h"
#include "platform/system_clock.h"
#include "tests/agent/server/server_fixture.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kReplyTimeout(5000);

// --- RESP on the client side -------------------------------------------

std::string Frame(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n";
    out.append(arg);
    out += "\r\n";
  }
  return out;
}

std::string Frame(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

enum class Scan { kComplete, kIncomplete, kMalformed };

// Scans one RESP2 reply at buf[*pos] and advances *pos past it.
Scan ScanReply(std::string_view buf, size_t* pos) {
  if (*pos >= buf.size()) return Scan::kIncomplete;
  const char type = buf[*pos];
  const size_t cr = buf.find("\r\n", *pos);
  if (cr == std::string_view::npos) return Scan::kIncomplete;
  const std::string line(buf.substr(*pos + 1, cr - *pos - 1));
  if (line.find('\r') != std::string::npos) return Scan::kMalformed;
  size_t next = cr + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
      *pos = next;
      return Scan::kComplete;
    case '$': {
      const long long n = std::atoll(line.c_str());
      if (n == -1) {
        *pos = next;
        return Scan::kComplete;
      }
      if (n < 0) return Scan::kMalformed;
      if (buf.size() < next + static_cast<size_t>(n) + 2) {
        return Scan::kIncomplete;
      }
      if (buf.substr(next + static_cast<size_t>(n), 2) != "\r\n") {
        return Scan::kMalformed;
      }
      *pos = next + static_cast<size_t>(n) + 2;
      return Scan::kComplete;
    }
    case '*': {
      const long long n = std::atoll(line.c_str());
      for (long long i = 0; i < n; ++i) {
        const Scan s = ScanReply(buf, &next);
        if (s != Scan::kComplete) return s;
      }
      *pos = next;
      return Scan::kComplete;
    }
    default:
      return Scan::kMalformed;
  }
}

// Splits a byte stream into whole replies; false if it is not one.
bool SplitReplies(std::string_view stream, std::vector<std::string>* out) {
  size_t pos = 0;
  while (pos < stream.size()) {
    const size_t start = pos;
    if (ScanReply(stream, &pos) != Scan::kComplete) return false;
    out->emplace_back(stream.substr(start, pos - start));
  }
  return true;
}

// A raw Unix-socket client. Every wait has a deadline.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (fd_ >= 0 &&
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Blocking send of everything; false once the server closed.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // The next whole reply; "" if none came before the deadline, the
  // connection ended, or the bytes were not RESP (see `failure`).
  std::string Reply(milliseconds timeout = kReplyTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      size_t pos = 0;
      const Scan s = ScanReply(buffer_, &pos);
      if (s == Scan::kComplete) {
        std::string reply = buffer_.substr(0, pos);
        buffer_.erase(0, pos);
        return reply;
      }
      if (s == Scan::kMalformed) {
        failure = "malformed reply stream: " + buffer_;
        return "";
      }
      if (!ReadSome(deadline)) return "";
    }
  }

  // Reads until the server closes the connection (true) or the deadline
  // passes (false). *rest receives everything not yet taken by Reply().
  bool WaitClosed(std::string* rest, milliseconds timeout = kReplyTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!eof_) {
      if (!ReadSome(deadline) && !eof_) return false;
    }
    *rest = buffer_;
    buffer_.clear();
    return true;
  }

  std::string failure;

 private:
  // One recv after poll; false at the deadline or the end of the stream.
  bool ReadSome(SteadyClock::time_point deadline) {
    if (eof_) {
      failure = "connection closed by the server";
      return false;
    }
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(
          deadline - SteadyClock::now());
      if (left.count() <= 0) {
        failure = "timed out; received so far: '" + buffer_ + "'";
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) {
        failure = std::string("poll: ") + std::strerror(errno);
        return false;
      }
      if (ready <= 0) continue;
      char buf[16384];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      eof_ = true;  // 0, or ECONNRESET: the server is gone
      failure = "connection closed by the server";
      return false;
    }
  }

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// Open file descriptors of this process.
size_t OpenFds() {
  size_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the directory stream's own
}

// Polls `condition` every 2 ms until it holds or `timeout` passes.
bool Eventually(milliseconds timeout, const std::function<bool()>& condition) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
}

const std::string kPong = "+PONG\r\n";

class HostileClientTest : public testing::ServerFixture {
 protected:
  // A PING round trip on `client`.
  static void ExpectPing(Client* client) {
    ASSERT_TRUE(client->Send("PING\r\n"));
    EXPECT_EQ(client->Reply(), kPong) << client->failure;
  }

  // Empties the "slow" bucket of `client_id`: RL.ACQUIRE on it then waits
  // for a day.
  void EmptySlowBucket(Client* client, const std::string& client_id) {
    ASSERT_TRUE(
        client->Send(Frame({"RL.CHECK", "slow", "5", "client_id", client_id})));
    ASSERT_EQ(client->Reply(), "*5\r\n:1\r\n:1\r\n:0\r\n:432000000\r\n:0\r\n")
        << client->failure;
  }
};

// --- broken frames ----------------------------------------------------

struct BrokenFrame {
  const char* name;
  std::string bytes;
  const char* error;  // expected in the -ERR line
};

TEST_F(HostileClientTest, BrokenFramesGetAnErrorAndCloseOnlyThatConnection) {
  const std::vector<BrokenFrame> cases = {
      {"letters as a bulk length", "*1\r\n$x\r\n",
       "invalid bulk length 'x': expected '$<length>' with a length from 0 "
       "to 65536"},
      {"negative bulk length", "*1\r\n$-5\r\n", "invalid bulk length '-5'"},
      {"letters as a count", "*abc\r\n",
       "invalid multibulk length 'abc': expected '*<count>' with a count "
       "from 0 to 4096"},
      {"negative count", "*-2\r\n", "invalid multibulk length '-2'"},
      {"integer where a bulk string belongs", "*2\r\n$4\r\nECHO\r\n:5\r\n",
       "expected '$' before argument 2 of a multibulk request, got ':'"},
      {"more data than announced", "*1\r\n$4\r\nPINGPONG\r\n",
       "argument 1 is not followed by CRLF after its 4 announced bytes"},
      {"less data than announced",
       "*2\r\n$4\r\nECHO\r\n$9\r\nabc\r\n*1\r\n$4\r\n",
       "argument 2 is not followed by CRLF after its 9 announced bytes"},
      {"CR without LF", "*1\r\n$4\rPING\r\n",
       "bulk length line '$4' is followed by CR without LF: end it with CRLF"},
      {"endless header", "*" + std::string(40, '1') + "\r\n",
       "is too long: expected a number of at most 18 digits then CRLF"},
      {"NUL in a header", std::string("*1\r\n$\0\r\n", 8),
       "invalid bulk length '?'"},
      {"absurd bulk length", "*1\r\n$999999999999\r\n",
       "request larger than the limit of 65536 bytes (an argument of "
       "999999999999 bytes was announced)"},
      {"absurd count", "*100000000\r\n",
       "too many arguments in one request (100000000): the limit is 4096"},
      {"count over 18 digits", "*1000000000000000000000\r\n",
       "invalid multibulk length"},
      {"unbalanced inline quotes", "ECHO \"abc\r\n",
       "unbalanced quotes in inline request"},
      {"text after an inline quote", "ECHO \"abc\"def\r\n",
       "a closing quote in an inline request must be followed by a space"},
  };
  // A bystander with a request half sent when each broken frame arrives:
  // its connection and its parser state must survive.
  Client bystander(socket_path());
  ASSERT_TRUE(bystander.ok());
  ExpectPing(&bystander);
  const std::string echo = Frame({"ECHO", "still here"});
  for (const BrokenFrame& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(bystander.Send(echo.substr(0, 10)));
    Client bad(socket_path());
    ASSERT_TRUE(bad.ok());
    // A request before the broken one is answered first.
    ASSERT_TRUE(bad.Send("PING\r\n" + c.bytes));
    std::string rest;
    ASSERT_TRUE(bad.WaitClosed(&rest)) << bad.failure;
    std::vector<std::string> replies;
    ASSERT_TRUE(SplitReplies(rest, &replies)) << rest;
    ASSERT_EQ(replies.size(), 2u) << rest;
    EXPECT_EQ(replies[0], kPong);
    EXPECT_EQ(replies[1].rfind("-ERR Protocol error: ", 0), 0u) << replies[1];
    EXPECT_NE(replies[1].find(c.error), std::string::npos) << replies[1];
    // The bystander finishes its request and is answered.
    ASSERT_TRUE(bystander.Send(echo.substr(10)));
    EXPECT_EQ(bystander.Reply(), "$10\r\nstill here\r\n") << bystander.failure;
  }
  EXPECT_TRUE(Eventually(kReplyTimeout, [&] {
    return Connections(server_) == 1;
  })) << Connections(server_);
}

TEST_F(HostileClientTest, AbsurdLengthsAreRefusedBeforeAnyDataIsSent) {
  // Only the header: the server answers without waiting for the data.
  for (const char* header :
       {"*1\r\n$999999999999\r\n", "*100000000\r\n",
        "*2\r\n$4\r\nECHO\r\n$65537\r\n", "*3\r\n$4\r\nECHO\r\n$40000\r\n"}) {
    SCOPED_TRACE(header);
    Client bad(socket_path());
    ASSERT_TRUE(bad.ok());
    std::string prefix(header);
    if (prefix.find("$40000") != std::string::npos) {
      // Two arguments that fit alone but not together.
      prefix += std::string(40000, 'a') + "\r\n$40000\r\n";
    }
    ASSERT_TRUE(bad.Send(prefix));
    const std::string reply = bad.Reply();
    EXPECT_EQ(reply.rfind("-ERR Protocol error: ", 0), 0u)
        << reply << bad.failure;
    std::string rest;
    EXPECT_TRUE(bad.WaitClosed(&rest)) << bad.failure;
    EXPECT_EQ(rest, "");
  }
  Client good(socket_path());
  ExpectPing(&good);
}

TEST_F(HostileClientTest, TruncatedFrameThenHangUpIsDroppedQuietly) {
  const std::string frame = Frame({"RL.CHECK", "api", "1", "client_id", "t"});
  Client bystander(socket_path());
  ExpectPing(&bystander);
  for (size_t cut : {size_t{1}, size_t{4}, size_t{9}, frame.size() - 1}) {
    SCOPED_TRACE(cut);
    {
      // Half-close: nothing to answer, the server closes too.
      Client half(socket_path());
      ASSERT_TRUE(half.Send(frame.substr(0, cut)));
      half.ShutdownWrite();
      std::string rest;
      EXPECT_TRUE(half.WaitClosed(&rest)) << half.failure;
      EXPECT_EQ(rest, "");
    }
    {
      // Full close: the server forgets the connection.
      Client gone(socket_path());
      ASSERT_TRUE(gone.Send(frame.substr(0, cut)));
    }
  }
  EXPECT_TRUE(Eventually(kReplyTimeout, [&] {
    return Connections(server_) == 1;
  })) << Connections(server_);
  // No bucket was touched by the truncated checks.
  ASSERT_TRUE(
      bystander.Send(Frame({"RL.CHECK", "api", "0", "client_id", "t"})));
  EXPECT_EQ(bystander.Reply(), "*5\r\n:1\r\n:10\r\n:5\r\n:0\r\n:0\r\n");
}

// Requests and the end of input (or a hang-up) that reach the server
// before it reads: edge-triggered readiness reports them together, and the
// read that returns the requests cannot tell that the end follows. The
// server still answers and closes (or forgets the connection), after one
// more read of the now quiet connection.
TEST_F(HostileClientTest, EndOfInputThatCameWithTheLastRequestsIsSeen) {
  const std::string frames = Frame({"PING"}) + Frame({"ECHO", "last"});
  const size_t baseline_fds = OpenFds();
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    {
      // A reply first, so that the server waits for input when both come.
      Client half(socket_path());
      ExpectPing(&half);
      ASSERT_TRUE(half.Send(frames));
      half.ShutdownWrite();
      std::string rest;
      EXPECT_TRUE(half.WaitClosed(&rest)) << half.failure;
      EXPECT_EQ(rest, "+PONG\r\n$4\r\nlast\r\n");
    }
    {
      Client gone(socket_path());
      ExpectPing(&gone);
      ASSERT_TRUE(gone.Send(
          Frame({"RL.CHECK", "api", "1", "client_id", "e"}).substr(0, 9)));
    }
  }
  EXPECT_TRUE(Eventually(
      kReplyTimeout,
      [&] { return Connections(server_) == 0 && OpenFds() == baseline_fds; }))
      << Connections(server_) << " connections, " << OpenFds() << " fds";
}

TEST_F(HostileClientTest, RandomBytesNeverHurtTheServer) {
  std::mt19937 rng(20261107);
  const std::string valid =
      Frame({"RL.CHECK", "api", "1", "client_id", "r"}) + "PING\r\n" +
      Frame({"ECHO", "x y"}) +
      Frame({"RL.ACQUIRE", "api", "1", "5", "client_id", "r"});
  Client bystander(socket_path());
  ASSERT_TRUE(bystander.ok());
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string junk;
    switch (round % 3) {
      case 0:  // anything
        junk.resize(1 + rng() % 6000);
        for (char& ch : junk) ch = static_cast<char>(rng());
        break;
      case 1:  // looks like multibulk
        junk = "*" + std::to_string(rng() % 5) + "\r\n";
        for (int i = 0; i < 40; ++i) {
          junk += rng() % 2 ? "$" + std::to_string(rng() % 8) + "\r\n"
                            : std::string(1, static_cast<char>(rng()));
        }
        break;
      default:  // valid requests with a few bytes changed
        junk = valid + valid;
        for (int i = 0; i < 3; ++i) {
          junk[rng() % junk.size()] = static_cast<char>(rng());
        }
    }
    Client client(socket_path());
    ASSERT_TRUE(client.ok());
    client.Send(junk);  // may fail: the server may have closed already
    client.ShutdownWrite();
    std::string rest;
    ASSERT_TRUE(client.WaitClosed(&rest)) << client.failure;
    // Whatever came back is whole replies, and a protocol error is last.
    std::vector<std::string> replies;
    ASSERT_TRUE(SplitReplies(rest, &replies)) << rest;
    for (size_t i = 0; i + 1 < replies.size(); ++i) {
      EXPECT_NE(replies[i].rfind("-ERR Protocol error", 0), 0u) << rest;
    }
    if (round % 50 == 0) ExpectPing(&bystander);
  }
  ExpectPing(&bystander);
  EXPECT_TRUE(Eventually(kReplyTimeout, [&] {
    return Connections(server_) == 1;
  })) << Connections(server_);
}

// --- bad arguments: an error saying what was expected, then go on -------

struct BadCommand {
  std::vector<std::string> args;
  std::string reply;  // the whole expected reply line
};

std::vector<BadCommand> BadCommands() {
  const std::string check_arity =
      "-ERR wrong number of arguments for 'rl.check' command: expected "
      "RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]\r\n";
  const std::string acquire_arity =
      "-ERR wrong number of arguments for 'rl.acquire' command: expected "
      "RL.ACQUIRE <domain> <cost> <timeout_ms> <key> <value> [<key> <value> "
      "...]\r\n";
  auto bad_cost = [](const std::string& cost, const std::string& command) {
    return "-ERR invalid cost '" + cost + "' for '" + command +
           "': expected a non-negative integer up to 9007199254740992\r\n";
  };
  auto bad_timeout = [](const std::string& timeout) {
    return "-ERR invalid timeout_ms '" + timeout +
           "' for 'rl.acquire': expected a non-negative integer of "
           "milliseconds up to 86400000\r\n";
  };
  const std::string unknown_tail =
      ": sluice-agent answers RL.CHECK, RL.ACQUIRE, RL.INFO, PING, ECHO, "
      "QUIT, HELLO, COMMAND, CONFIG GET and CLIENT\r\n";
  return {
      // Wrong arity, odd key/value lists.
      {{"RL.CHECK"}, check_arity},
      {{"RL.CHECK", "api"}, check_arity},
      {{"RL.CHECK", "api", "1"}, check_arity},
      {{"rl.check", "api", "1", "client_id"}, check_arity},
      {{"RL.CHECK", "api", "1", "client_id", "a", "route"}, check_arity},
      {{"RL.ACQUIRE", "api", "1", "100"}, acquire_arity},
      {{"RL.ACQUIRE", "api", "1", "100", "client_id"}, acquire_arity},
      {{"RL.ACQUIRE", "api", "1", "100", "client_id", "a", "x"}, acquire_arity},
      // Non-numeric, negative, fractional, too large costs.
      {{"RL.CHECK", "api", "-1", "client_id", "a"}, bad_cost("-1", "rl.check")},
      {{"RL.CHECK", "api", "abc", "client_id", "a"},
       bad_cost("abc", "rl.check")},
      {{"RL.CHECK", "api", "1.5", "client_id", "a"},
       bad_cost("1.5", "rl.check")},
      {{"RL.CHECK", "api", "", "client_id", "a"}, bad_cost("", "rl.check")},
      {{"RL.CHECK", "api", " 1", "client_id", "a"}, bad_cost(" 1", "rl.check")},
      {{"RL.CHECK", "api", "+1", "client_id", "a"}, bad_cost("+1", "rl.check")},
      {{"RL.CHECK", "api", "99999999999999999999", "client_id", "a"},
       bad_cost("99999999999999999999", "rl.check")},
      {{"RL.CHECK", "api", "9007199254740993", "client_id", "a"},
       bad_cost("9007199254740993", "rl.check")},
      {{"RL.ACQUIRE", "api", "-2", "100", "client_id", "a"},
       bad_cost("-2", "rl.acquire")},
      {{"RL.ACQUIRE", "api", "1", "soon", "client_id", "a"},
       bad_timeout("soon")},
      {{"RL.ACQUIRE", "api", "1", "-5", "client_id", "a"}, bad_timeout("-5")},
      {{"RL.ACQUIRE", "api", "1", "86400001", "client_id", "a"},
       bad_timeout("86400001")},
      // Unknown commands, also with bytes that must not break the reply
      // line (CR, LF and other non-printables come back as '?').
      {{"NOSUCH"}, "-ERR unknown command 'NOSUCH'" + unknown_tail},
      {{"GET", "key"}, "-ERR unknown command 'GET'" + unknown_tail},
      {{"A\r\nB"},
       "-ERR unknown command 'A?"
       "?B'" +
           unknown_tail},
      {{std::string("\0\xff", 2)},
       "-ERR unknown command '?"
       "?'" +
           unknown_tail},
      // Known commands used wrongly.
      {{"PING", "a", "b"},
       "-ERR wrong number of arguments for 'ping' command: expected PING "
       "[message]\r\n"},
      {{"ECHO"},
       "-ERR wrong number of arguments for 'echo' command: expected ECHO "
       "<message>\r\n"},
      {{"RL.INFO", "all"},
       "-ERR wrong number of arguments for 'rl.info' command: expected "
       "RL.INFO\r\n"},
      {{"CONFIG", "SET", "save", ""},
       "-ERR sluice-agent supports only CONFIG GET <parameter> [<parameter> "
       "...]\r\n"},
      {{"HELLO", "3"},
       "-NOPROTO sorry, this protocol version is not supported: "
       "sluice-agent speaks RESP2 only (HELLO 2)\r\n"},
      {{"HELLO", "two"},
       "-ERR protocol version 'two' is not an integer or out of range: "
       "expected HELLO 2\r\n"},
      {{"CLIENT", "KILL", "x"},
       "-ERR unsupported CLIENT subcommand: sluice-agent accepts CLIENT ID, "
       "CLIENT SETNAME <name> and CLIENT SETINFO <attr> <value>\r\n"},
  };
}

TEST_F(HostileClientTest, BadArgumentsGetAnErrorAndTheConnectionStaysUsable) {
  Client client(socket_path());
  ASSERT_TRUE(client.ok());
  // One at a time, a good request after each bad one.
  for (const BadCommand& bad : BadCommands()) {
    SCOPED_TRACE(bad.args[0]);
    ASSERT_TRUE(client.Send(Frame(bad.args)));
    EXPECT_EQ(client.Reply(), bad.reply) << client.failure;
    ExpectPing(&client);
  }
  // All pipelined in one write: replies in order, none lost.
  std::string pipeline;
  for (const BadCommand& bad : BadCommands()) pipeline += Frame(bad.args);
  pipeline += Frame({"RL.CHECK", "api", "1", "client_id", "after"});
  ASSERT_TRUE(client.Send(pipeline));
  for (const BadCommand& bad : BadCommands()) {
    EXPECT_EQ(client.Reply(), bad.reply) << client.failure;
  }
  EXPECT_EQ(client.Reply(), "*5\r\n:1\r\n:10\r\n:4\r\n:100\r\n:0\r\n");
  // Errors took no tokens: only the last check did.
  ASSERT_TRUE(client.Send("RL.CHECK api 0 client_id a\r\n"));
  EXPECT_EQ(client.Reply(), "*5\r\n:1\r\n:10\r\n:5\r\n:0\r\n:0\r\n");
  // Inline requests get the same errors.
  ASSERT_TRUE(client.Send("RL.CHECK api -1 client_id a\r\nRL.CHECK api 1\n"));
  EXPECT_EQ(client.Reply(),
            "-ERR invalid cost '-1' for 'rl.check': expected a non-negative "
            "integer up to 9007199254740992\r\n");
  EXPECT_EQ(client.Reply(), BadCommands()[0].reply);
  ExpectPing(&client);
}

// --- frames over the size limit -----------------------------------------

// An ECHO request of exactly `total` bytes, framing included.
std::string EchoOfSize(size_t total) {
  for (size_t n = total; n > 0; --n) {
    std::string frame = Frame({"ECHO", std::string(n, 'e')});
    if (frame.size() == total) return frame;
  }
  return "";
}

TEST_F(HostileClientTest, FramesOverTheSizeLimitCloseTheConnection) {
  ServerOptions options;
  options.socket_path = dir_ + "/small.sock";
  options.parser.max_request_bytes = 1024;
  options.parser.max_args = 16;
  Server* small = StartServer(options);
  ASSERT_NE(small, nullptr);
  Client bystander(options.socket_path);
  ExpectPing(&bystander);

  // Exactly at the limit: answered.
  {
    Client client(options.socket_path);
    const std::string frame = EchoOfSize(1024);
    ASSERT_EQ(frame.size(), 1024u);
    ASSERT_TRUE(client.Send(frame));
    const std::string reply = client.Reply();
    EXPECT_EQ(reply.rfind("$1001\r\neee", 0), 0u) << reply << client.failure;
    ExpectPing(&client);
  }
  struct Oversized {
    std::string bytes;
    std::string error;
  };
  const std::vector<Oversized> cases = {
      {EchoOfSize(1025),
       "-ERR Protocol error: request larger than the limit of 1024 bytes (an "
       "argument of 1002 bytes was announced)\r\n"},
      {"*3\r\n$4\r\nECHO\r\n$500\r\n" + std::string(500, 'a') + "\r\n$500\r\n" +
           std::string(500, 'b') + "\r\n",
       "-ERR Protocol error: request larger than the limit of 1024 bytes (an "
       "argument of 500 bytes was announced)\r\n"},
      {"*17\r\n",
       "-ERR Protocol error: too many arguments in one request (17): the "
       "limit is 16\r\n"},
      {std::string(1100, 'a'),
       "-ERR Protocol error: inline request longer than the limit of 1024 "
       "bytes without a line end: end inline requests with LF, or send a "
       "multibulk ('*<count>') request\r\n"},
      {"ECHO " + std::string(2000, ' ') + "x\n",
       "-ERR Protocol error: inline request longer than the limit of 1024 "
       "bytes without a line end: end inline requests with LF, or send a "
       "multibulk ('*<count>') request\r\n"},
  };
  for (const Oversized& c : cases) {
    SCOPED_TRACE(c.bytes.substr(0, 20));
    Client client(options.socket_path);
    ASSERT_TRUE(client.Send("PING\r\n"));
    EXPECT_EQ(client.Reply(), kPong);
    client.Send(c.bytes);  // the server may close before it is all sent
    std::string rest;
    ASSERT_TRUE(client.WaitClosed(&rest)) << client.failure;
    EXPECT_EQ(rest, c.error);
    ExpectPing(&bystander);
  }
  EXPECT_TRUE(
      Eventually(kReplyTimeout, [&] { return Connections(small) == 1; }));
}

// --- connection churn -----------------------------------------------------

TEST_F(HostileClientTest, ThousandsOfConnectionsOpenedAndDroppedLeakNothing) {
  Client bystander(socket_path());
  ExpectPing(&bystander);
  EmptySlowBucket(&bystander, "churn");
  ASSERT_EQ(Connections(server_), 1u);
  const size_t baseline_fds = OpenFds();
  const uint64_t accepted_before = Accepted(server_);
  const auto start = SteadyClock::now();

  constexpr int kConnections = 3000;
  constexpr int kWave = 300;  // held open at the same time
  const std::string partial = Frame({"ECHO", "abcdef"}).substr(0, 12);
  std::string pings;
  for (int i = 0; i < 200; ++i) pings += "PING\r\n";
  const std::string acquire =
      Frame({"RL.ACQUIRE", "slow", "1", "60000", "client_id", "churn"});
  for (int wave = 0; wave < kConnections / kWave; ++wave) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < kWave; ++i) {
      clients.push_back(std::make_unique<Client>(socket_path()));
      ASSERT_TRUE(clients.back()->ok()) << "wave " << wave << " #" << i;
    }
    for (int i = 0; i < kWave; ++i) {
      Client& c = *clients[i];
      switch (i % 6) {
        case 0:  // connects and leaves
          break;
        case 1:  // leaves in the middle of a request
          c.Send(partial);
          break;
        case 2:  // leaves without reading its reply
          c.Send("PING\r\n");
          break;
        case 3:  // a polite client
          c.Send("PING\r\n");
          EXPECT_EQ(c.Reply(), kPong) << c.failure;
          break;
        case 4:  // leaves with many replies unread
          c.Send(pings);
          break;
        case 5:  // leaves while its RL.ACQUIRE waits (for a minute)
          c.Send(acquire);
          break;
      }
    }
    clients.clear();  // all closed
    ExpectPing(&bystander);
  }
  EXPECT_TRUE(Eventually(kReplyTimeout, [&] {
    return Accepted(server_) - accepted_before == kConnections;
  })) << Accepted(server_) - accepted_before;
  // Everything is forgotten well before any RL.ACQUIRE timed out.
  EXPECT_TRUE(Eventually(
      milliseconds(10000),
      [&] { return Connections(server_) == 1 && OpenFds() == baseline_fds; }))
      << Connections(server_) << " connections, " << OpenFds() << " fds, "
      << baseline_fds << " at the start";
  EXPECT_LT(SteadyClock::now() - start, milliseconds(30000));
  ExpectPing(&bystander);
}

TEST_F(HostileClientTest, AcquireWaiterThatHangsUpIsForgottenAtOnce) {
  Client bystander(socket_path());
  EmptySlowBucket(&bystander, "gone");
  const size_t baseline_fds = OpenFds();
  {
    Client waiter(socket_path());
    ASSERT_TRUE(waiter.Send(
        Frame({"RL.ACQUIRE", "slow", "1", "60000", "client_id", "gone"})));
    ASSERT_TRUE(
        Eventually(kReplyTimeout, [&] { return Connections(server_) == 2; }));
  }
  EXPECT_TRUE(Eventually(
      milliseconds(2000),
      [&] { return Connections(server_) == 1 && OpenFds() == baseline_fds; }))
      << Connections(server_) << " connections";
  ExpectPing(&bystander);
}

TEST_F(HostileClientTest, AcquireWaiterThatOnlyHalfClosesStillGetsItsReplies) {
  Client bystander(socket_path());
  EmptySlowBucket(&bystander, "half");
  Client waiter(socket_path());
  const auto start = SteadyClock::now();
  ASSERT_TRUE(waiter.Send(
      Frame({"RL.ACQUIRE", "slow", "1", "200", "client_id", "half"}) +
      "PING\r\n" + Frame({"ECHO", "last"})));
  waiter.ShutdownWrite();  // done sending, still reading
  std::string rest;
  ASSERT_TRUE(waiter.WaitClosed(&rest)) << waiter.failure;
  EXPECT_GE(SteadyClock::now() - start, milliseconds(190));
  std::vector<std::string> replies;
  ASSERT_TRUE(SplitReplies(rest, &replies)) << rest;
  ASSERT_EQ(replies.size(), 3u) << rest;
  EXPECT_EQ(replies[0].rfind("*5\r\n:0\r\n:1\r\n:0\r\n", 0), 0u) << rest;
  EXPECT_EQ(replies[1], kPong);
  EXPECT_EQ(replies[2], "$4\r\nlast\r\n");
}

TEST_F(HostileClientTest, LongPipelineBehindAWaitingAcquireIsAnswered) {
  // More bytes behind the RL.ACQUIRE than the read buffer may hold: the
  // server must neither drop the client nor lose a request.
  Client bystander(socket_path());
  EmptySlowBucket(&bystander, "queue");
  Client client(socket_path());
  constexpr int kPings = 20000;  // 120 KB of inline PINGs
  std::string pipeline =
      Frame({"RL.ACQUIRE", "slow", "1", "150", "client_id", "queue"});
  for (int i = 0; i < kPings; ++i) pipeline += "PING\r\n";
  std::thread sender([&] { client.Send(pipeline); });
  const std::string first = client.Reply();
  EXPECT_EQ(first.rfind("*5\r\n:0\r\n", 0), 0u) << first << client.failure;
  int pongs = 0;
  for (; pongs < kPings; ++pongs) {
    if (client.Reply() != kPong) break;
  }
  sender.join();
  EXPECT_EQ(pongs, kPings) << client.failure;
  ExpectPing(&bystander);
}

// --- a client that never reads --------------------------------------------

TEST_F(HostileClientTest, ClientThatNeverReadsIsDroppedOthersStayResponsive) {
  constexpr size_t kLimit = 256 * 1024;
  ServerOptions options;
  options.socket_path = dir_ + "/bounded.sock";
  options.max_output_bytes = kLimit;
  Server* bounded = StartServer(options);
  ASSERT_NE(bounded, nullptr);
  Client bystander(options.socket_path);
  ExpectPing(&bystander);
  const size_t baseline_fds = OpenFds();

  Client flooder(options.socket_path);
  ASSERT_TRUE(flooder.ok());
  ASSERT_EQ(::fcntl(flooder.fd(), F_SETFL, O_NONBLOCK), 0);
  const std::string check = Frame({"RL.CHECK", "api", "1", "client_id", "f"});
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += check;
  // Each reply is at least 30 bytes ("*5\r\n:0\r\n:10\r\n:0\r\n..."): the
  // server may drop the flooder only after kLimit bytes of replies.
  const size_t min_requests_before_drop = kLimit / 30;

  size_t sent = 0;
  bool dropped = false;
  auto slowest_ping = milliseconds(0);
  size_t offset = 0;
  const auto deadline = SteadyClock::now() + milliseconds(20000);
  while (SteadyClock::now() < deadline) {
    const ssize_t n = ::send(flooder.fd(), batch.data() + offset,
                             batch.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      offset = (offset + static_cast<size_t>(n)) % batch.size();
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The server is behind: meanwhile another client is served at once.
      const auto before = SteadyClock::now();
      ExpectPing(&bystander);
      slowest_ping =
          std::max(slowest_ping, std::chrono::duration_cast<milliseconds>(
                                     SteadyClock::now() - before));
      pollfd p{flooder.fd(), POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else {
      dropped = errno == EPIPE || errno == ECONNRESET;
      break;
    }
  }
  EXPECT_TRUE(dropped) << "sent " << sent << " bytes in 20 s, not dropped";
  EXPECT_GE(sent / check.size(), min_requests_before_drop);
  EXPECT_LT(slowest_ping, milliseconds(1000));
  flooder.Close();
  ExpectPing(&bystander);
  EXPECT_TRUE(Eventually(
      kReplyTimeout,
      [&] { return Connections(bounded) == 1 && OpenFds() == baseline_fds; }))
      << Connections(bounded) << " connections";
}

}  // namespace
}  // namespace sluice
