// HttpServer over real sockets on loopback, with a handler made for the
// test and short limits, so each limit is reached in well under a second:
// keep-alive and pipelining, admission before the body, body and header
// limits, timeouts, connection caps, framing.
#include "platform/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/raw_http.h"

namespace sluice {
namespace {

using testing::RawConnection;
using testing::RawExchange;
using testing::RawRequest;
using testing::RawResponse;
using Clock = std::chrono::steady_clock;

// /private/... needs "Authorization: Bearer good"; /echo answers the body,
// /empty 204, anything else "METHOD PATH?QUERY".
class TestHandler : public HttpHandler {
 public:
  std::optional<HttpResponse> Admit(const HttpRequest& head) override {
    ++admitted;
    if (head.path.rfind("/private", 0) == 0 &&
        head.authorization != "Bearer good") {
      return Refuse(401, "unauthorized", "no token");
    }
    return std::nullopt;
  }
  HttpResponse Handle(const HttpRequest& request) override {
    ++handled;
    HttpResponse response;
    response.content_type = "text/plain";
    if (request.path == "/empty") {
      response.status = 204;
    } else if (request.path == "/echo" || request.path == "/private/echo") {
      response.body = request.body;
    } else {
      response.body = request.method + " " + request.path + "?" +
                      request.query + " " + request.if_match;
    }
    return response;
  }
  HttpResponse Refuse(int status, const std::string& code,
                      const std::string& message) override {
    HttpResponse response;
    response.status = status;
    response.body = "{\"error\": {\"code\": \"" + code + "\", \"message\": \"" +
                    message + "\", \"field\": \"\"}}";
    return response;
  }

  std::atomic<int> admitted{0};
  std::atomic<int> handled{0};
};

HttpLimits ShortLimits() {
  HttpLimits limits;
  limits.max_connections = 20;
  limits.max_connections_per_client = 4;
  limits.header_timeout_ms = 400;
  limits.max_header_bytes = 4096;
  limits.max_target_bytes = 1024;
  limits.max_header_fields = 20;
  limits.max_body_bytes = 1000;
  limits.min_bytes_per_second = 1000;
  limits.linger_ms = 300;
  limits.linger_bytes = 64 * 1024;
  return limits;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ShortLimits()); }

  void Start(const HttpLimits& limits) {
    server_.reset();
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.limits = limits;
    server_ = std::make_unique<HttpServer>(options, &handler_);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    port_ = server_->port();
  }

  TestHandler handler_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                               start)
      .count();
}

TEST_F(HttpServerTest, KeepAliveServesRequestsInTurnOnOneConnection) {
  RawConnection connection(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Send(RawRequest(
        "GET", "/a/" + std::to_string(i) + "?x=1", {"If-Match: \"3\""})));
    RawResponse response = connection.Read();
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "GET /a/" + std::to_string(i) + "?x=1 \"3\"");
    EXPECT_EQ(response.Header("Content-Type"), "text/plain");
  }
  EXPECT_FALSE(connection.Closed());
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderThenGarbageIs400) {
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(
      RawRequest("GET", "/first") + RawRequest("POST", "/echo", {}, "second") +
      RawRequest("GET", "/third") + "NOT HTTP AT ALL\x01\x02\r\n\r\n"));
  RawResponse first = connection.Read();
  RawResponse second = connection.Read();
  RawResponse third = connection.Read();
  RawResponse garbage = connection.Read();
  EXPECT_EQ(first.body, "GET /first? ");
  EXPECT_EQ(second.body, "second");
  EXPECT_EQ(third.body, "GET /third? ");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(garbage.body.find("\"bad_request\""), std::string::npos);
  EXPECT_EQ(garbage.Header("Connection"), "close");
  EXPECT_TRUE(connection.WaitClosed(2000));
}

TEST_F(HttpServerTest, ARefusedRequestsBodyIsNeverWaitedFor) {
  RawConnection connection(port_);
  // A body of a million bytes is announced and never sent: the refusal
  // cannot depend on it.
  ASSERT_TRUE(connection.Send(
      "POST /private/echo HTTP/1.1\r\nHost: t\r\nContent-Length: "
      "1000000\r\n\r\n"));
  const auto start = Clock::now();
  RawResponse refused = connection.Read(2000);
  EXPECT_EQ(refused.status, 401);
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_EQ(refused.Header("Connection"), "close");
  EXPECT_TRUE(connection.WaitClosed(2000));
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(HttpServerTest, ARefusalOfARequestWithoutBodyKeepsTheConnection) {
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(RawRequest("GET", "/private/x")));
  EXPECT_EQ(connection.Read().status, 401);
  ASSERT_TRUE(connection.Send(
      RawRequest("GET", "/private/x", {"Authorization: Bearer good"})));
  EXPECT_EQ(connection.Read().status, 200);
}

TEST_F(HttpServerTest, TheRefusalReachesAClientStillSendingItsBody) {
  // The client sends its whole (refused) body before it reads: the server
  // discards it rather than resetting the connection under the answer.
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(
      RawRequest("POST", "/private/echo", {}, std::string(30000, 'x'))));
  EXPECT_EQ(connection.Read().status, 401);
}

TEST_F(HttpServerTest, BodiesOverTheLimitAre413WhileRead) {
  RawResponse declared = RawExchange(
      port_, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(declared.status, 413);
  EXPECT_NE(declared.body.find("\"body_too_large\""), std::string::npos);
  EXPECT_NE(declared.body.find("1000 bytes"), std::string::npos);

  RawConnection chunked(port_);
  ASSERT_TRUE(chunked.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // Three chunks of 512 bytes: the second goes over 1000.
  const std::string chunk = "200\r\n" + std::string(0x200, 'y') + "\r\n";
  for (int i = 0; i < 3; ++i) chunked.Send(chunk);
  RawResponse too_large = chunked.Read(2000);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(handler_.handled.load(), 0);

  // Up to the limit is fine, chunked or not.
  EXPECT_EQ(RawExchange(port_,
                        RawRequest("POST", "/echo", {}, std::string(1000, 'z')))
                .body.size(),
            1000u);
  RawResponse small = RawExchange(
      port_,
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(small.body, "abcde");
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredOnlyForAdmittedRequests) {
  RawConnection admitted(port_);
  ASSERT_TRUE(
      admitted.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                    "Content-Length: 5\r\n\r\n"));
  EXPECT_EQ(admitted.Read().status, 100);
  ASSERT_TRUE(admitted.Send("hello"));
  EXPECT_EQ(admitted.Read().body, "hello");

  RawConnection refused(port_);
  ASSERT_TRUE(refused.Send(
      "POST /private/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
      "Content-Length: 5\r\n\r\n"));
  EXPECT_EQ(refused.Read().status, 401);
}

TEST_F(HttpServerTest, HeadersTooLargeAre431AndTargetsTooLong414) {
  std::string many_fields = "GET / HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 30; ++i)
    many_fields += "X-" + std::to_string(i) + ": v\r\n";
  RawResponse fields = RawExchange(port_, many_fields + "\r\n");
  EXPECT_EQ(fields.status, 431);
  EXPECT_NE(fields.body.find("\"header_too_large\""), std::string::npos);

  RawResponse long_line = RawExchange(
      port_, RawRequest("GET", "/", {"X-Long: " + std::string(5000, 'a')}));
  EXPECT_EQ(long_line.status, 431);

  // Over max_target_bytes, within the header limit, and beyond it.
  for (size_t length : {2000u, 6000u}) {
    RawResponse target =
        RawExchange(port_, RawRequest("GET", "/" + std::string(length, 'u')));
    EXPECT_EQ(target.status, 414) << length;
    EXPECT_NE(target.body.find("\"uri_too_long\""), std::string::npos);
  }
  EXPECT_EQ(handler_.admitted.load(), 0);
}

TEST_F(HttpServerTest, AHeaderNotDoneInTimeClosesTheConnection) {
  RawConnection idle(port_);
  RawConnection slow(port_);
  const auto start = Clock::now();
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: t\r\n"));
  // One more field line now and then does not buy time.
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    slow.Send("X-" + std::to_string(i) + ": v\r\n");
    closed = slow.WaitClosed(100);
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(MsSince(start), 350);
  EXPECT_TRUE(idle.WaitClosed(2000));
  EXPECT_LT(MsSince(start), 3000);
}

TEST_F(HttpServerTest, ABodyUnderTheMinimumRateIsCutOff) {
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\n"));
  const auto start = Clock::now();
  // 10 bytes every 50 ms: 200 B/s, under the 1000 B/s minimum.
  bool closed = false;
  int sent = 0;
  while (!closed && sent < 900) {
    closed =
        !connection.Send(std::string(10, 'b')) || connection.WaitClosed(50);
    sent += 10;
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(sent, 900);
  EXPECT_LT(MsSince(start), 2500);
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(HttpServerTest, ConnectionsAreCappedPerClientAndInAll) {
  std::vector<RawConnection> held;
  for (int i = 0; i < 4; ++i) held.emplace_back(port_, "127.0.9.1");
  RawConnection fifth(port_, "127.0.9.1");
  RawResponse refused = fifth.Read(2000);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("\"too_many_connections\""), std::string::npos);
  EXPECT_NE(refused.body.find("maximum of 4"), std::string::npos);
  // Another address is served meanwhile.
  RawConnection other(port_, "127.0.9.2");
  ASSERT_TRUE(other.Send(RawRequest("GET", "/")));
  EXPECT_EQ(other.Read().status, 200);
  // In all: 20. Held: 4, and `other`: 5; 15 more fit.
  for (int a = 3; a < 6; ++a) {
    for (int i = 0; i < 4; ++i) {
      held.emplace_back(port_, "127.0.9." + std::to_string(a));
    }
  }
  for (int i = 0; i < 3; ++i) held.emplace_back(port_, "127.0.9.8");
  RawConnection over(port_, "127.0.9.9");
  EXPECT_EQ(over.Read(2000).status, 503);
  // Their places come back when they close.
  held.clear();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = RawExchange(port_, RawRequest("GET", "/"), 1000).status == 200;
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, FramingFollowsTheRequest) {
  RawConnection connection(port_);
  ASSERT_TRUE(connection.Send(RawRequest("HEAD", "/x")));
  RawResponse head = connection.Read(5000, /*to_head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("Content-Length"), "9");  // "HEAD /x? "
  EXPECT_TRUE(head.body.empty());
  ASSERT_TRUE(connection.Send(RawRequest("DELETE", "/empty")));
  RawResponse empty = connection.Read();
  EXPECT_EQ(empty.status, 204);
  EXPECT_EQ(empty.Header("Content-Length"), "");
  ASSERT_TRUE(connection.Send(RawRequest("GET", "/", {"Connection: close"})));
  EXPECT_EQ(connection.Read().Header("Connection"), "close");
  EXPECT_TRUE(connection.WaitClosed(2000));

  RawConnection old(port_);
  ASSERT_TRUE(old.Send("GET /old HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(old.Read().body, "GET /old? ");
  EXPECT_TRUE(old.WaitClosed(2000));
}

TEST_F(HttpServerTest, StopClosesOpenConnectionsPromptly) {
  RawConnection idle(port_);
  RawConnection half(port_);
  ASSERT_TRUE(half.Send("GET / HTTP/1.1\r\n"));
  const auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_TRUE(idle.WaitClosed(1000));
  EXPECT_TRUE(half.WaitClosed(1000));
}

TEST(HttpServerStartTest, RefusesBadAddressesAndHalfTls) {
  TestHandler handler;
  HttpServerOptions options;
  options.listen = "nonsense";
  EXPECT_EQ(HttpServer(options, &handler).Start().code(),
            Status::Code::kInvalidArgument);
  options.listen = "127.0.0.1:0";
  options.tls_cert = "/nonexistent.pem";
  EXPECT_EQ(HttpServer(options, &handler).Start().code(),
            Status::Code::kInvalidArgument);
  options.tls_cert.clear();
  options.limits.max_connections = 0;
  EXPECT_EQ(HttpServer(options, &handler).Start().code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
