// The HTTP front door (agent/http_check/http_check_server.h) over real HTTP
// on loopback: decisions and their header fields, side by side with
// RL.CHECK over the RESP socket, bad requests, and hostile clients (huge
// headers, bodies, slow headers, idle connections, too many connections,
// garbage, clients that never read). Server state is polled with
// deadlines; nothing sleeps to wait.
#include "agent/http_check/http_check_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/agent/door_fixture.h"
#include "tests/agent/http_check/raw_http.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using testing::CheckStep;
using testing::Eventually;
using testing::HttpResponse;
using testing::RawHttp;

std::string Encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Target(const CheckStep& step) {
  std::string out =
      "/v1/check/" + Encode(step.domain) + "?cost=" + std::to_string(step.cost);
  for (const auto& [key, value] : step.pairs) {
    out += "&" + Encode(key) + "=" + Encode(value);
  }
  return out;
}

nlohmann::json Json(const HttpResponse& r) {
  return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

// The error code of a JSON error body, or "" when there is none.
std::string ErrorCode(const HttpResponse& r) {
  const nlohmann::json body = Json(r);
  if (!body.is_object() || !body.contains("error") ||
      !body["error"].is_object()) {
    return "";
  }
  return body["error"].value("code", "");
}

class HttpCheckServerTest : public testing::DoorFixture {
 protected:
  void SetUp() override {
    DoorFixture::SetUp();
    door_ = Start(Options());
    ASSERT_NE(door_, nullptr);
  }

  static HttpCheckOptions Options() {
    HttpCheckOptions options;
    options.address = "127.0.0.1:0";
    return options;
  }

  HttpCheckServer* Start(const HttpCheckOptions& options,
                         Status* status_out = nullptr) {
    return StartDoor<HttpCheckServer>(
        [options](const FrontDoorContext& context) {
          return std::make_unique<HttpCheckServer>(context, options);
        },
        status_out);
  }

  uint64_t Accepted() {
    return OnIo([this] { return door_->connections_accepted(); });
  }

  size_t Connections(HttpCheckServer* door) {
    return OnIo([door] { return door->connection_count(); });
  }

  // A fresh connection asks once.
  HttpResponse GetOnce(const std::string& target) {
    RawHttp client(door_->port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Get(target));
    return client.Read();
  }

  // The door answers a good request on a new connection.
  void ExpectServing() {
    EXPECT_EQ(GetOnce("/v1/check/api?client_id=still-here").status, 200);
  }

  HttpCheckServer* door_ = nullptr;
};

TEST_F(HttpCheckServerTest, AllowedThenRefusedWithRateLimitFields) {
  RawHttp client(door_->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Get("/v1/check/api?client_id=42"));
    const HttpResponse r = client.Read();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("ratelimit-policy"), "\"api-per-client\";q=10;w=1");
    EXPECT_EQ(r.header("ratelimit"),
              "\"api-per-client\";r=" + std::to_string(4 - i) + ";t=1");
    EXPECT_FALSE(r.has("retry-after"));
    const nlohmann::json body = Json(r);
    EXPECT_EQ(body.value("allowed", false), true);
    EXPECT_EQ(body.value("limit", 0), 10);
    EXPECT_EQ(body.value("remaining", -9), 4 - i);
    EXPECT_EQ(body.value("reset_after_ms", -9), (i + 1) * 100);
    EXPECT_EQ(body.value("retry_after_ms", -9), 0);
  }
  // The same connection (keep-alive): refused now.
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=42"));
  const HttpResponse refused = client.Read();
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "1");  // 100 ms, rounded up
  EXPECT_EQ(refused.header("ratelimit"), "\"api-per-client\";r=0;t=1");
  const nlohmann::json body = Json(refused);
  EXPECT_EQ(body.value("allowed", true), false);
  EXPECT_EQ(body.value("retry_after_ms", -9), 100);
  EXPECT_EQ(Accepted(), 1u);
  EXPECT_TRUE(Eventually([&] { return checked_.load() == 6; }));
}

TEST_F(HttpCheckServerTest, SameDecisionsAsRlCheckSideBySide) {
  StartTwin();
  RawHttp client(door_->port());
  const std::vector<CheckStep> script = testing::SideBySideScript(400, 11);
  int refused = 0;
  for (size_t i = 0; i < script.size(); ++i) {
    const CheckStep& step = script[i];
    AdvanceMillis(step.advance_ms);
    ASSERT_TRUE(client.Get(Target(step)));
    const HttpResponse r = client.Read();
    const std::vector<long long> resp = TwinCheck(step);
    ASSERT_EQ(resp.size(), 5u) << "step " << i;
    SCOPED_TRACE("step " + std::to_string(i) + ": " + Target(step));
    ASSERT_EQ(r.status, resp[0] == 1 ? 200 : 429) << r.body;
    refused += resp[0] == 0;
    const nlohmann::json body = Json(r);
    EXPECT_EQ(body.value("allowed", false), resp[0] == 1);
    EXPECT_EQ(body.value("limit", -9LL), resp[1]);
    EXPECT_EQ(body.value("remaining", -9LL), resp[2]);
    EXPECT_EQ(body.value("reset_after_ms", -9LL), resp[3]);
    EXPECT_EQ(body.value("retry_after_ms", -9LL), resp[4]);
    EXPECT_EQ(r.has("ratelimit"), resp[1] != -1);
    if (resp[0] == 0 && resp[4] >= 0) {
      EXPECT_EQ(r.header("retry-after"),
                std::to_string((resp[4] + 999) / 1000));
    } else {
      EXPECT_FALSE(r.has("retry-after"));
    }
  }
  EXPECT_GT(refused, 20);
}

TEST_F(HttpCheckServerTest, NoRuleAndShadowRulesAllowWithoutRateLimitFields) {
  for (int i = 0; i < 3; ++i) {
    for (const char* domain : {"nowhere", "shadow"}) {
      const HttpResponse r =
          GetOnce(std::string("/v1/check/") + domain + "?client_id=1");
      EXPECT_EQ(r.status, 200) << domain;
      EXPECT_FALSE(r.has("ratelimit-policy")) << domain;
      EXPECT_FALSE(r.has("ratelimit")) << domain;
      EXPECT_EQ(Json(r).value("limit", 0), -1) << domain;
    }
  }
}

TEST_F(HttpCheckServerTest, CostZeroPeeksAndCostAboveBurstNeverRetries) {
  EXPECT_EQ(
      Json(GetOnce("/v1/check/api?client_id=p&cost=0")).value("remaining", -9),
      5);
  const HttpResponse r = GetOnce("/v1/check/api?client_id=p&cost=6");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Json(r).value("retry_after_ms", 0), -1);
  EXPECT_FALSE(r.has("retry-after"));
  EXPECT_EQ(Peek("api", {{"client_id", "p"}}).remaining, 5);
}

TEST_F(HttpCheckServerTest,
       BadRequestsGet400WithAJsonErrorAndKeepTheConnection) {
  struct Case {
    std::string target;
    std::string code;
    std::string says;
  };
  const Case cases[] = {
      {"/v1/nothing", "unknown_path", "the only path is /v1/check/"},
      {"/v1/check/api?client_id=1&cost=two", "invalid_argument",
       "whole number from 0"},
      {"/v1/check/?client_id=1", "invalid_argument", "names no domain"},
      {"/v1/check/api?client_id=1&client_id=2", "invalid_argument",
       "appears twice"},
      {"/v1/check/api?client_id=" + std::string(5000, 'x'), "url_too_long",
       "at most 4096"},
  };
  RawHttp client(door_->port());
  for (const Case& c : cases) {
    ASSERT_TRUE(client.Get(c.target));
    const HttpResponse r = client.Read();
    ASSERT_EQ(r.status, 400) << c.target;
    const nlohmann::json body = Json(r);
    ASSERT_EQ(ErrorCode(r), c.code) << r.body;
    EXPECT_NE(body["error"].value("message", "").find(c.says),
              std::string::npos)
        << r.body;
  }
  // Still the same connection.
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=1"));
  EXPECT_EQ(client.Read().status, 200);
  EXPECT_EQ(Accepted(), 1u);
}

TEST_F(HttpCheckServerTest, OtherMethodsGet405AndHeadHasNoBody) {
  RawHttp client(door_->port());
  ASSERT_TRUE(client.Send(
      "DELETE /v1/check/api?client_id=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const HttpResponse r = client.Read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  ASSERT_TRUE(client.Send(
      "HEAD /v1/check/api?client_id=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const HttpResponse head = client.Read(/*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_NE(head.header("content-length"), "0");
  EXPECT_EQ(head.header("ratelimit"), "\"api-per-client\";r=4;t=1");
  // The next response starts right after the HEAD's header.
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=1"));
  EXPECT_EQ(Json(client.Read()).value("remaining", -9), 3);
}

TEST_F(HttpCheckServerTest, PipelinedRequestsAreAnsweredInOrder) {
  RawHttp client(door_->port());
  std::string batch;
  for (int i = 0; i < 4; ++i) {
    batch += "GET /v1/check/api?client_id=pipe HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  ASSERT_TRUE(client.Send(batch));
  for (int i = 0; i < 4; ++i) {
    const HttpResponse r = client.Read();
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Json(r).value("remaining", -9), 4 - i);
  }
}

TEST_F(HttpCheckServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  RawHttp once(door_->port());
  ASSERT_TRUE(once.Send("GET /v1/check/api?client_id=1 HTTP/1.0\r\n\r\n"));
  HttpResponse r = once.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(once.WaitClosed());

  RawHttp kept(door_->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        kept.Send("GET /v1/check/api?client_id=1 HTTP/1.0\r\nConnection: "
                  "keep-alive\r\n\r\n"));
    r = kept.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("connection"), "keep-alive");
  }
  // HTTP/1.1 asking to close.
  ASSERT_TRUE(kept.Get("/v1/check/api?client_id=1", "Connection: close\r\n"));
  EXPECT_EQ(kept.Read().header("connection"), "close");
  EXPECT_TRUE(kept.WaitClosed());
}

TEST_F(HttpCheckServerTest, HugeHeaderGets400AndIsClosed) {
  RawHttp client(door_->port());
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=1",
                         "X-Big: " + std::string(20 * 1024, 'a') + "\r\n"));
  const HttpResponse r = client.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "header_too_large");
  EXPECT_TRUE(client.WaitClosed());
  ExpectServing();
}

TEST_F(HttpCheckServerTest, BodiesAreRefusedAndTheConnectionClosed) {
  for (const std::string& framing :
       {std::string("Content-Length: 5\r\n\r\nhello"),
        std::string(
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")}) {
    RawHttp client(door_->port());
    ASSERT_TRUE(
        client.Send("GET /v1/check/api?client_id=b HTTP/1.1\r\nHost: "
                    "x\r\n" +
                    framing));
    const HttpResponse r = client.Read();
    EXPECT_EQ(r.status, 400) << framing;
    EXPECT_EQ(ErrorCode(r), "body_not_accepted");
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(client.WaitClosed());
  }
  // Nothing was checked.
  EXPECT_EQ(Peek("api", {{"client_id", "b"}}).remaining, 5);
  // Content-Length: 0 is no body.
  RawHttp client(door_->port());
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=b", "Content-Length: 0\r\n"));
  EXPECT_EQ(client.Read().status, 200);
}

TEST_F(HttpCheckServerTest, GarbageGets400AndOthersGoOn) {
  RawHttp other(door_->port());
  ASSERT_TRUE(other.Get("/v1/check/api?client_id=o"));
  ASSERT_EQ(other.Read().status, 200);
  for (const std::string& junk :
       {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
        std::string("GET /v1/check/api?a=1 HTTP/9.9\r\n\r\n"),
        std::string("GET\r\n\r\n"),
        std::string("GET /v1/check/api?a=1 HTTP/1.1\r\nBad Header\r\n\r\n")}) {
    RawHttp client(door_->port());
    ASSERT_TRUE(client.Send(junk));
    const HttpResponse r = client.Read();
    EXPECT_EQ(r.status, 400) << junk;
    EXPECT_EQ(ErrorCode(r), "malformed_request");
    EXPECT_TRUE(client.WaitClosed());
  }
  ASSERT_TRUE(other.Get("/v1/check/api?client_id=o"));
  EXPECT_EQ(other.Read().status, 200);
}

TEST_F(HttpCheckServerTest, SlowHeaderGets408AndIsClosed) {
  HttpCheckOptions options = Options();
  options.header_timeout_ms = 200;
  HttpCheckServer* door = Start(options);
  ASSERT_NE(door, nullptr);
  RawHttp client(door->port());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Send("GET /v1/check/api?client_id=1 HTTP/1.1\r\n"));
  const HttpResponse r = client.Read();
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(ErrorCode(r), "request_timeout");
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(3000));
  EXPECT_TRUE(Eventually([&] { return Connections(door) == 0; }));
}

TEST_F(HttpCheckServerTest, IdleConnectionsAreClosed) {
  HttpCheckOptions options = Options();
  options.idle_timeout_ms = 200;
  HttpCheckServer* door = Start(options);
  ASSERT_NE(door, nullptr);
  RawHttp silent(door->port());
  RawHttp after_one(door->port());
  ASSERT_TRUE(after_one.Get("/v1/check/api?client_id=1"));
  EXPECT_EQ(after_one.Read().status, 200);
  EXPECT_TRUE(silent.WaitClosed(milliseconds(3000)));
  EXPECT_TRUE(after_one.WaitClosed(milliseconds(3000)));
  EXPECT_TRUE(Eventually([&] { return Connections(door) == 0; }));
}

TEST_F(HttpCheckServerTest, ConnectionsBeyondTheCapGet503) {
  HttpCheckOptions options = Options();
  options.max_connections = 2;
  HttpCheckServer* door = Start(options);
  ASSERT_NE(door, nullptr);
  auto first = std::make_unique<RawHttp>(door->port());
  RawHttp second(door->port());
  ASSERT_TRUE(Eventually([&] { return Connections(door) == 2; }));
  RawHttp third(door->port());
  const HttpResponse r = third.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(ErrorCode(r), "too_many_connections");
  EXPECT_TRUE(third.WaitClosed());
  // The others still work; once one leaves, a new one gets in.
  ASSERT_TRUE(second.Get("/v1/check/api?client_id=1"));
  EXPECT_EQ(second.Read().status, 200);
  first.reset();
  ASSERT_TRUE(Eventually([&] { return Connections(door) == 1; }));
  RawHttp fourth(door->port());
  ASSERT_TRUE(fourth.Get("/v1/check/api?client_id=1"));
  EXPECT_EQ(fourth.Read().status, 200);
}

TEST_F(HttpCheckServerTest, ClientThatNeverReadsIsDropped) {
  HttpCheckOptions options = Options();
  options.write_timeout_ms = 200;
  HttpCheckServer* door = Start(options);
  ASSERT_NE(door, nullptr);
  RawHttp client(door->port(), /*receive_buffer=*/4096);
  const std::string request =
      "GET /v1/check/nowhere?client_id=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += request;
  // Send without reading until the server stops taking requests (its
  // answers fill both sockets' buffers) and drops the connection.
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  bool dropped = false;
  while (!dropped && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::send(client.fd(), batch.data(), batch.size(),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) dropped = true;
    if (n < 0 && !dropped) {
      dropped = Connections(door) == 0;
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  EXPECT_TRUE(dropped);
  EXPECT_TRUE(Eventually([&] { return Connections(door) == 0; }));
}

TEST_F(HttpCheckServerTest, StopClosesEveryConnection) {
  RawHttp client(door_->port());
  ASSERT_TRUE(client.Get("/v1/check/api?client_id=1"));
  ASSERT_EQ(client.Read().status, 200);
  OnIo([this] { door_->Stop(); });
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_EQ(Connections(door_), 0u);
  RawHttp refused(door_->port());
  EXPECT_FALSE(refused.connected());
}

TEST_F(HttpCheckServerTest, BadAddressesFailWithAMessage) {
  HttpCheckOptions options = Options();
  Status status;
  options.address = "127.0.0.1:" + std::to_string(door_->port());
  EXPECT_EQ(Start(options, &status), nullptr);
  EXPECT_NE(status.message().find("choose another HOST:PORT"),
            std::string::npos)
      << status.message();
  options.address = "nowhere";
  EXPECT_EQ(Start(options, &status), nullptr);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
