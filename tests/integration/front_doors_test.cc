// The sluice-agent binary with --grpc (on the command line) and
// --http-check (from SLUICE_HTTP_CHECK), next to a real controller and
// PostgreSQL: a rule created over REST is enforced through all three
// doors, and they share one bucket: tokens taken over HTTP are gone for
// gRPC and RL.CHECK.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "tests/agent/http_check/raw_http.h"
#include "tests/integration/stack.h"
#include "tests/support/free_port.h"

namespace sluice::testing {
namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;
using std::chrono::milliseconds;

const char* kRule = R"({"name": "doors-per-client", "domain": "api",
  "match": {"client_id": "*"}, "limit": 4, "period": "1m"})";

class FrontDoorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_port_ = PickFreePort();
    http_port_ = PickFreePort();
    stack_.StartController();
    stack_.StartAgent(
        0, {"--grpc", "127.0.0.1:" + std::to_string(grpc_port_)},
        {{"SLUICE_HTTP_CHECK", "127.0.0.1:" + std::to_string(http_port_)}});
  }

  // GET on the HTTP check: the status, 0 when it did not answer.
  int HttpCheck(const std::string& client) {
    RawHttp http(http_port_);
    if (!http.Get("/v1/check/api?client_id=" + client)) return 0;
    return http.Read().status;
  }

  RateLimitResponse::Code GrpcCheck(const std::string& client) {
    auto stub = RateLimitService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                            grpc::InsecureChannelCredentials()));
    RateLimitRequest request;
    request.set_domain("api");
    auto* entry = request.add_descriptors()->add_entries();
    entry->set_key("client_id");
    entry->set_value(client);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    RateLimitResponse response;
    const grpc::Status status =
        stub->ShouldRateLimit(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.overall_code();
  }

  Stack stack_;
  uint16_t grpc_port_ = 0;
  uint16_t http_port_ = 0;
};

TEST_F(FrontDoorsTest, OneRuleOneBucketThroughEveryDoor) {
  const std::string log = stack_.agent().LogTail();
  EXPECT_NE(log.find("grpc=127.0.0.1:" + std::to_string(grpc_port_)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("http_check=127.0.0.1:" + std::to_string(http_port_)),
            std::string::npos)
      << log;
  // Before the rule: every door admits.
  EXPECT_EQ(HttpCheck("42"), 200);
  EXPECT_EQ(GrpcCheck("42"), RateLimitResponse::OK);

  ASSERT_EQ(stack_.Http("POST", "/api/v1/rules", kRule).status, 201);
  RedisClient redis(stack_.socket_path());
  ASSERT_TRUE(Eventually(milliseconds(2000), [&] {
    return redis.Check({"RL.CHECK", "api", "0", "client_id", "7"}).limit == 4;
  })) << stack_.agent().LogTail();

  // Four tokens for client 7: two over HTTP, one over gRPC, one RL.CHECK.
  EXPECT_EQ(HttpCheck("7"), 200);
  EXPECT_EQ(HttpCheck("7"), 200);
  EXPECT_EQ(GrpcCheck("7"), RateLimitResponse::OK);
  EXPECT_EQ(redis.Check({"RL.CHECK", "api", "1", "client_id", "7"}).allowed, 1);
  // The bucket is empty for every door.
  EXPECT_EQ(HttpCheck("7"), 429);
  EXPECT_EQ(GrpcCheck("7"), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(redis.Check({"RL.CHECK", "api", "1", "client_id", "7"}).allowed, 0);
  // Another client is untouched.
  EXPECT_EQ(GrpcCheck("8"), RateLimitResponse::OK);
}

TEST_F(FrontDoorsTest, StopsCleanlyOnSigterm) {
  EXPECT_EQ(GrpcCheck("1"), RateLimitResponse::OK);
  EXPECT_EQ(HttpCheck("1"), 200);
  const int status = stack_.agent().Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "exit status " << status << "\n"
      << stack_.agent().LogTail();
}

}  // namespace
}  // namespace sluice::testing
