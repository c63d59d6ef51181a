#include "agent/grpc/rls_server.h"

#include <grpcpp/grpcpp.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <utility>

#include "agent/grpc/rls_decide.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "platform/endpoint.h"
#include "platform/log.h"

namespace sluice {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;

namespace {
constexpr std::string_view kLog = "agent.grpc";
}  // namespace

// One ShouldRateLimit call: gRPC owns the request and response until
// Finish(); the call deletes itself once gRPC is done with it.
class RlsServer::Call final : public grpc::ServerUnaryReactor {
 public:
  Call(RlsServer* server, const RateLimitRequest* request,
       RateLimitResponse* response)
      : server_(server), request_(request), response_(response) {}

  const RateLimitRequest& request() const { return *request_; }
  RateLimitResponse* response() { return response_; }
  bool cancelled() const { return cancelled_.load(); }

  // gRPC threads.
  void OnCancel() override {
    cancelled_.store(true);
    server_->cancelled_.fetch_add(1);
  }
  void OnDone() override { delete this; }

 private:
  RlsServer* server_;
  const RateLimitRequest* request_;
  RateLimitResponse* response_;
  std::atomic<bool> cancelled_{false};
};

class RlsServer::Service final : public RateLimitService::CallbackService {
 public:
  explicit Service(RlsServer* server) : server_(server) {}

  grpc::ServerUnaryReactor* ShouldRateLimit(
      grpc::CallbackServerContext* /*context*/, const RateLimitRequest* request,
      RateLimitResponse* response) override {
    auto* call = new Call(server_, request, response);
    const Status valid = rls::ValidateRequest(*request);
    if (!valid.ok()) {
      call->Finish(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, valid.message()));
    } else {
      server_->HandOver(call);
    }
    return call;
  }

 private:
  RlsServer* server_;
};

RlsServer::RlsServer(const FrontDoorContext& context, RlsServerOptions options)
    : context_(context),
      options_(std::move(options)),
      service_(std::make_unique<Service>(this)),
      finisher_(std::make_unique<Finisher>()) {}

RlsServer::~RlsServer() { Stop(); }

FrontDoorFactory RlsServer::Factory(RlsServerOptions options) {
  return [options](const FrontDoorContext& context) {
    return std::make_unique<RlsServer>(context, options);
  };
}

Status RlsServer::Start() {
  StatusOr<HostPort> hp = ParseHostPort(options_.address, /*allow_zero=*/true);
  if (!hp.ok()) {
    return Status::InvalidArgument("--grpc: " + hp.status().message());
  }
  if (!IsLoopbackHost(hp->host)) {
    LogWarn(kLog, "listening on non-loopback " + options_.address +
                      ": the rate limit service has no TLS and no "
                      "authentication, anyone who can reach it can take "
                      "tokens");
  }
  grpc::ServerBuilder builder;
  // Two agents must not share a port, each silently taking half the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_bytes);
  builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    port_ = 0;
    return Status::Unavailable(
        "cannot listen on --grpc " + options_.address +
        ": the port is in use or the host is not an address of this "
        "machine; choose another --grpc HOST:PORT");
  }
  return Status::Ok();
}

void RlsServer::HandOver(Call* call) {
  uint64_t id = 0;
  std::weak_ptr<char> alive;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      id = next_id_++;
      waiting_.emplace(id, call);
      alive = alive_;
    }
  }
  if (id == 0) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "sluice-agent is stopping; retry once it is "
                              "back"));
    return;
  }
  boost::asio::post(*context_.io, [this, id, alive = std::move(alive)] {
    if (!alive.expired()) Run(id);
  });
}

void RlsServer::Run(uint64_t id) {
  Call* call = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;  // Stop() answered it
    call = it->second;
    waiting_.erase(it);
  }
  if (call->cancelled()) {
    finisher_->Add(call, grpc::Status(grpc::StatusCode::CANCELLED,
                                      "the client went away before the check "
                                      "ran; nothing was taken"));
    return;
  }
  const Status status =
      rls::Decide(call->request(), context_.clock->NowNanos(), context_.checker,
                  &scratch_, call->response());
  // Sending the answer is gRPC's work, done off the event loop.
  finisher_->Add(call, status.ok()
                           ? grpc::Status::OK
                           : grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                          status.message()));
  if (context_.on_checked) context_.on_checked();
}

void RlsServer::Stop() {
  std::unordered_map<uint64_t, Call*> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    waiting.swap(waiting_);
  }
  for (auto& [id, call] : waiting) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "sluice-agent is stopping; retry once it is "
                              "back"));
  }
  finisher_->Stop();  // the answers already decided go out
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(options_.shutdown_grace_ms));
    server_.reset();
  }
}

std::string RlsServer::Describe() const {
  return "grpc=" + options_.address + " (port " + std::to_string(port_) + ")";
}

size_t RlsServer::calls_waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

}  // namespace sluice
