// The gRPC front door (agent/grpc/rls_server.h) over real gRPC on loopback,
// driven by a real gRPC client generated from the same .proto files
// (third_party/envoy_api): decisions side by side with RL.CHECK over the
// RESP socket, malformed, oversized and invalid requests, unknown domains,
// a client that disconnects while its call waits for the event loop, and
// stopping with calls in flight. Server state is polled with deadlines;
// nothing sleeps to wait.
#include "agent/grpc/rls_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/grpc/rls_decide.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "tests/agent/door_fixture.h"
#include "tests/support/tcp_relay.h"

namespace sluice {
namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;
using testing::CheckStep;
using testing::Eventually;
using Entries = std::vector<std::pair<std::string, std::string>>;

constexpr char kMethod[] =
    "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

RateLimitRequest Request(const std::string& domain,
                         const std::vector<Entries>& descriptors,
                         uint32_t hits = 0) {
  RateLimitRequest request;
  request.set_domain(domain);
  request.set_hits_addend(hits);
  for (const Entries& entries : descriptors) {
    auto* d = request.add_descriptors();
    for (const auto& [key, value] : entries) {
      auto* e = d->add_entries();
      e->set_key(key);
      e->set_value(value);
    }
  }
  return request;
}

struct Answer {
  grpc::Status status;
  RateLimitResponse response;
};

// Holds the event loop busy until released (or destroyed): calls handed
// to it wait meanwhile.
class LoopBlocker {
 public:
  explicit LoopBlocker(boost::asio::io_context* io) {
    std::shared_future<void> released = release_.get_future().share();
    boost::asio::post(*io, [this, released] {
      running_.set_value();
      released.wait();
    });
    running_.get_future().wait();
  }
  ~LoopBlocker() { Release(); }
  void Release() {
    if (!released_) release_.set_value();
    released_ = true;
  }

 private:
  std::promise<void> running_;
  std::promise<void> release_;
  bool released_ = false;
};

class RlsServerTest : public testing::DoorFixture {
 protected:
  void SetUp() override {
    DoorFixture::SetUp();
    RlsServerOptions options;
    options.address = "127.0.0.1:0";
    options.max_receive_bytes = 16 * 1024;
    door_ = Start(options);
    ASSERT_NE(door_, nullptr);
    channel_ = Channel(door_->port());
    stub_ = RateLimitService::NewStub(channel_);
  }

  RlsServer* Start(const RlsServerOptions& options,
                   Status* status_out = nullptr) {
    return StartDoor<RlsServer>(
        [options](const FrontDoorContext& context) {
          return std::make_unique<RlsServer>(context, options);
        },
        status_out);
  }

  static std::shared_ptr<grpc::Channel> Channel(int port) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(1 << 20);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials(), args);
  }

  Answer Call(const RateLimitRequest& request,
              RateLimitService::Stub* stub = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    Answer answer;
    answer.status = (stub != nullptr ? stub : stub_.get())
                        ->ShouldRateLimit(&context, request, &answer.response);
    return answer;
  }

  // Sends raw bytes as the request message.
  grpc::Status CallRaw(const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, kMethod, grpc::StubOptions(), &request,
                      &response,
                      [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  // The door still answers a good call.
  void ExpectServing() {
    const Answer a = Call(Request("api", {{{"client_id", "still-here"}}}));
    EXPECT_TRUE(a.status.ok()) << a.status.error_message();
    EXPECT_EQ(a.response.overall_code(), RateLimitResponse::OK);
  }

  size_t Buckets() {
    return OnIo([this] { return checker_.table().size(); });
  }

  RlsServer* door_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<RateLimitService::Stub> stub_;
};

TEST_F(RlsServerTest, AllowsTheBurstThenOverLimitWithTheRule) {
  const RateLimitRequest request = Request("api", {{{"client_id", "42"}}});
  for (int i = 0; i < 5; ++i) {
    const Answer a = Call(request);
    ASSERT_TRUE(a.status.ok()) << a.status.error_message();
    EXPECT_EQ(a.response.overall_code(), RateLimitResponse::OK);
    ASSERT_EQ(a.response.statuses_size(), 1);
    const auto& s = a.response.statuses(0);
    EXPECT_EQ(s.current_limit().name(), "api-per-client");
    EXPECT_EQ(s.current_limit().requests_per_unit(), 10u);
    EXPECT_EQ(s.current_limit().unit(), RateLimitResponse::RateLimit::SECOND);
    EXPECT_EQ(s.limit_remaining(), static_cast<uint32_t>(4 - i));
    EXPECT_EQ(s.duration_until_reset().nanos(), (i + 1) * 100 * 1000 * 1000);
  }
  const Answer refused = Call(request);
  ASSERT_TRUE(refused.status.ok());
  EXPECT_EQ(refused.response.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.response.statuses(0).code(), RateLimitResponse::OVER_LIMIT);
  // Every call told the agent to send the lease requests it queued (after
  // answering).
  EXPECT_TRUE(Eventually([&] { return checked_.load() == 6; }));
}

TEST_F(RlsServerTest, SameDecisionsAsRlCheckSideBySide) {
  StartTwin();
  const std::vector<CheckStep> script = testing::SideBySideScript(400, 7);
  const std::shared_ptr<const RuleIndex> rules = Rules();
  int refused = 0;
  for (size_t i = 0; i < script.size(); ++i) {
    const CheckStep& step = script[i];
    AdvanceMillis(step.advance_ms);
    const Answer a = Call(
        Request(step.domain, {step.pairs}, static_cast<uint32_t>(step.cost)));
    const std::vector<long long> resp = TwinCheck(step);
    ASSERT_TRUE(a.status.ok()) << a.status.error_message();
    ASSERT_EQ(resp.size(), 5u) << "step " << i;
    ASSERT_EQ(a.response.statuses_size(), 1);
    const auto& s = a.response.statuses(0);
    SCOPED_TRACE("step " + std::to_string(i) + ": " + step.domain + " cost " +
                 std::to_string(step.cost));
    EXPECT_EQ(s.code() == RateLimitResponse::OK, resp[0] == 1);
    EXPECT_EQ(a.response.overall_code() == RateLimitResponse::OK, resp[0] == 1);
    refused += resp[0] == 0;
    if (resp[1] == -1) {
      EXPECT_FALSE(s.has_current_limit());
      EXPECT_EQ(s.limit_remaining(), 0u);
      continue;
    }
    ASSERT_TRUE(s.has_current_limit());
    const Rule* rule = nullptr;
    for (const Rule& r : rules->rules()) {
      if (r.name == s.current_limit().name()) rule = &r;
    }
    ASSERT_NE(rule, nullptr) << s.current_limit().name();
    EXPECT_EQ(rule->limit, resp[1]);
    const rls::UnitRate rate = rls::ToUnitRate(rule->limit, rule->period_ms);
    EXPECT_EQ(s.current_limit().requests_per_unit(), rate.requests_per_unit);
    EXPECT_EQ(s.current_limit().unit(), rate.unit);
    EXPECT_EQ(static_cast<long long>(s.limit_remaining()), resp[2]);
    EXPECT_EQ(s.duration_until_reset().seconds() * 1000 +
                  s.duration_until_reset().nanos() / 1000000,
              resp[3]);
  }
  // The script exercised refusals, not only admissions.
  EXPECT_GT(refused, 20);
}

TEST_F(RlsServerTest, UnknownDomainAndShadowRuleAnswerOk) {
  for (int i = 0; i < 4; ++i) {
    for (const char* domain : {"no-such-domain", "shadow"}) {
      const Answer a = Call(Request(domain, {{{"client_id", "1"}}}));
      ASSERT_TRUE(a.status.ok()) << a.status.error_message();
      EXPECT_EQ(a.response.overall_code(), RateLimitResponse::OK) << domain;
      EXPECT_FALSE(a.response.statuses(0).has_current_limit()) << domain;
    }
  }
}

TEST_F(RlsServerTest, InvalidRequestsSayWhatIsWrong) {
  struct Case {
    RateLimitRequest request;
    std::string says;
  };
  const Case cases[] = {
      {Request("", {{{"client_id", "1"}}}), "domain is empty"},
      {Request("api", {}), "no descriptors"},
      {Request("api", {{{"client_id", "1"}}, {}}), "has no entries"},
  };
  for (const Case& c : cases) {
    const Answer a = Call(c.request);
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(a.status.error_message().find(c.says), std::string::npos)
        << a.status.error_message();
  }
  ExpectServing();
}

TEST_F(RlsServerTest, MalformedMessagesAreRefusedAndTheDoorGoesOn) {
  // Not a protobuf message: an invalid wire type, a length past the end.
  for (const std::string& bytes :
       {std::string("\xff\xff\xff\xff\x0f", 5), std::string("\x0a\x7f", 2),
        std::string("\x12\x05\x0a\x03\x0a", 5)}) {
    const grpc::Status status = CallRaw(bytes);
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << status.error_message();
  }
  // An empty message is a valid, empty request.
  EXPECT_EQ(CallRaw("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectServing();
}

TEST_F(RlsServerTest, OversizedRequestIsRefusedBeforeTheAgentSeesIt) {
  const size_t before = Buckets();
  const Answer a =
      Call(Request("api", {{{"client_id", std::string(20 * 1024, 'x')}}}));
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << a.status.error_message();
  EXPECT_EQ(Buckets(), before);
  // Just under the limit is fine.
  const Answer b =
      Call(Request("api", {{{"client_id", std::string(15 * 1024, 'y')}}}));
  EXPECT_TRUE(b.status.ok()) << b.status.error_message();
  ExpectServing();
}

TEST_F(RlsServerTest, TooManyDescriptorsIsInvalid) {
  std::vector<Entries> descriptors(rls::kMaxDescriptors + 1,
                                   Entries{{"client_id", "1"}});
  const Answer a = Call(Request("api", descriptors));
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  descriptors.pop_back();
  const Answer b = Call(Request("nowhere", descriptors));
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(b.response.statuses_size(), rls::kMaxDescriptors);
}

TEST_F(RlsServerTest, ClientThatDisconnectsMidCallTakesNothing) {
  // Through a relay, so that the connection can really be cut.
  auto relay = std::make_unique<testing::TcpRelay>(door_->port());
  auto stub = RateLimitService::NewStub(Channel(relay->port()));
  ASSERT_TRUE(
      Call(Request("api", {{{"client_id", "warm"}}}), stub.get()).status.ok());
  const size_t buckets = Buckets();

  LoopBlocker blocker(&io_);
  grpc::ClientContext context;
  RateLimitRequest request = Request("api", {{{"client_id", "gone"}}});
  RateLimitResponse response;
  std::promise<grpc::Status> done;
  stub->async()->ShouldRateLimit(
      &context, &request, &response,
      [&done](grpc::Status status) { done.set_value(status); });
  // The call reached the door and waits for the loop; then the client's
  // connection goes away.
  ASSERT_TRUE(Eventually([&] { return door_->calls_waiting() == 1; }));
  relay.reset();
  ASSERT_TRUE(Eventually([&] { return door_->calls_cancelled() >= 1; }));
  blocker.Release();
  EXPECT_FALSE(done.get_future().get().ok());
  ASSERT_TRUE(Eventually([&] { return door_->calls_waiting() == 0; }));

  // No bucket was made, nothing was taken; the door serves on.
  EXPECT_EQ(Buckets(), buckets);
  EXPECT_EQ(Peek("api", {{"client_id", "gone"}}).remaining, 5);
  ExpectServing();
}

TEST_F(RlsServerTest, DeadlinePassedWhileWaitingTakesNothing) {
  LoopBlocker blocker(&io_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(1000));
  RateLimitRequest request = Request("api", {{{"client_id", "late"}}});
  RateLimitResponse response;
  std::promise<grpc::Status> done;
  stub_->async()->ShouldRateLimit(
      &context, &request, &response,
      [&done](grpc::Status status) { done.set_value(status); });
  // The call waits for the loop until its deadline passes.
  ASSERT_TRUE(Eventually([&] { return door_->calls_waiting() == 1; }));
  EXPECT_EQ(done.get_future().get().error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(Eventually([&] { return door_->calls_cancelled() >= 1; }));
  blocker.Release();
  ASSERT_TRUE(Eventually([&] { return door_->calls_waiting() == 0; }));
  EXPECT_EQ(Peek("api", {{"client_id", "late"}}).remaining, 5);
  ExpectServing();
}

TEST_F(RlsServerTest, StopAnswersWaitingCallsUnavailable) {
  grpc::ClientContext context;
  RateLimitRequest request = Request("api", {{{"client_id", "1"}}});
  RateLimitResponse response;
  std::promise<grpc::Status> done;
  // The loop stops the door while a call waits for it.
  std::promise<void> stopped;
  boost::asio::post(io_, [&] {
    stub_->async()->ShouldRateLimit(
        &context, &request, &response,
        [&done](grpc::Status status) { done.set_value(status); });
    EXPECT_TRUE(Eventually([&] { return door_->calls_waiting() == 1; }));
    door_->Stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  const grpc::Status status = done.get_future().get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("stopping"), std::string::npos);
  EXPECT_EQ(door_->calls_waiting(), 0u);
}

TEST_F(RlsServerTest, PortInUseFailsWithAMessage) {
  RlsServerOptions options;
  options.address = "127.0.0.1:" + std::to_string(door_->port());
  Status status;
  EXPECT_EQ(Start(options, &status), nullptr);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_NE(status.message().find("choose another --grpc"), std::string::npos);
  options.address = "127.0.0.1";
  EXPECT_EQ(Start(options, &status), nullptr);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  ExpectServing();
}

}  // namespace
}  // namespace sluice
