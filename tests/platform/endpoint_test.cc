#include "platform/endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(ParseHostPortTest, ParsesHostsAndPorts) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  } cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"localhost:80", "localhost", 80},
      {"[::1]:9000", "::1", 9000},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
      {"example.com:1", "example.com", 1},
      {"host:08080", "host", 8080},
  };
  for (const Case& c : cases) {
    StatusOr<HostPort> hp = ParseHostPort(c.text);
    ASSERT_TRUE(hp.ok()) << c.text << ": " << hp.status().ToString();
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
  }
}

TEST(ParseHostPortTest, PortZeroOnlyWhenAllowed) {
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0").ok());
  StatusOr<HostPort> hp = ParseHostPort("127.0.0.1:0", /*allow_zero=*/true);
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->port, 0);
}

TEST(ParseHostPortTest, RefusesMalformedAddressesSayingWhatIsRight) {
  struct Case {
    const char* text;
    const char* expected_part;
  } cases[] = {
      {"", "has no port"},
      {"localhost", "has no port"},
      {"localhost:", "has no port"},
      {":8080", "has no host"},
      {"[]:8080", "has no host"},
      {"host:http", "port 'http' is not a number"},
      {"host:-1", "is not a number"},
      {"host:+80", "is not a number"},
      {"host:65536", "port 65536 is out of range; use 1 to 65535"},
      {"host:99999999999999999999", "out of range"},
      {"::1:8080", "an IPv6 host needs brackets"},
      {"bad host:80", "malformed host"},
  };
  for (const Case& c : cases) {
    StatusOr<HostPort> hp = ParseHostPort(c.text);
    ASSERT_FALSE(hp.ok()) << c.text;
    EXPECT_EQ(hp.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(hp.status().message().find(c.expected_part), std::string::npos)
        << c.text << ": " << hp.status().message();
    // Says what would be right: the form, or the range.
    const std::string& message = hp.status().message();
    EXPECT_TRUE(message.find("write HOST:PORT") != std::string::npos ||
                message.find("use 1 to 65535") != std::string::npos)
        << c.text << ": " << message;
  }
  StatusOr<HostPort> zero = ParseHostPort("h:70000", /*allow_zero=*/true);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("use 0 to 65535"), std::string::npos);
}

TEST(IsLoopbackHostTest, RecognisesLoopback) {
  for (const char* host :
       {"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "::1", "[::1]",
        "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackHostTest, RefusesEverythingElse) {
  for (const char* host :
       {"", "0.0.0.0", "*", "10.0.0.1", "128.0.0.1", "127.evil.example",
        "127.0.0.1.evil.example", "127.0.0", "127.0.0.256", "localhost.evil",
        "::", "::2", "::ffff:10.0.0.1", "lo"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackZmqEndpointTest, LocalTransportsAndLoopbackTcp) {
  for (const char* endpoint :
       {"inproc://agents", "ipc:///tmp/sluice.sock", "tcp://127.0.0.1:7070",
        "tcp://localhost:7070", "tcp://[::1]:7070",
        "tcp://10.0.0.5;127.0.0.1:7070"}) {
    EXPECT_TRUE(IsLoopbackZmqEndpoint(endpoint)) << endpoint;
  }
}

TEST(IsLoopbackZmqEndpointTest, EverythingElseNeedsKeys) {
  for (const char* endpoint :
       {"tcp://0.0.0.0:7070", "tcp://*:7070", "tcp://10.0.0.5:7070",
        "tcp://127.evil.example:7070", "tcp://127.0.0.1;10.0.0.5:7070",
        "tcp://127.0.0.1", "pgm://127.0.0.1;239.192.1.1:5555",
        "ws://127.0.0.1:80", "127.0.0.1:7070", ""}) {
    EXPECT_FALSE(IsLoopbackZmqEndpoint(endpoint)) << endpoint;
  }
}

TEST(CheckAgentChannelTest, PlainTextOnlyOnLoopbackOrWhenInsecure) {
  EXPECT_TRUE(CheckAgentChannel("--agents", "tcp://127.0.0.1:7070", false,
                                false, "keys")
                  .ok());
  EXPECT_TRUE(
      CheckAgentChannel("--agents", "tcp://0.0.0.0:7070", true, false, "keys")
          .ok());
  EXPECT_TRUE(
      CheckAgentChannel("--agents", "tcp://0.0.0.0:7070", false, true, "keys")
          .ok());
  const Status refused = CheckAgentChannel(
      "--controller", "tcp://10.0.0.5:7070", false, false, "--the-key-flags");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "--controller tcp://10.0.0.5:7070 is not a loopback endpoint and "
            "no CurveZMQ key is given: the agent channel would be neither "
            "encrypted nor authenticated. Give --the-key-flags, use a "
            "loopback endpoint such as tcp://127.0.0.1:7070, or pass "
            "--insecure (SLUICE_INSECURE=1) on a network you trust");
}

}  // namespace
}  // namespace sluice
