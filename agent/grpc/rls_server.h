// RlsServer: the agent's gRPC front door (--grpc HOST:PORT), serving
// Envoy's rate limit service, envoy.service.ratelimit.v3.RateLimitService/
// ShouldRateLimit (third_party/envoy_api), so that Envoy, Istio and other
// gateways built on Envoy use the local agent as their rate limit service.
// What a request means and what is answered: agent/grpc/rls_decide.h.
//
// Threads. gRPC runs its own threads (the callback API); the Checker
// belongs to the agent's event loop. Each call is validated on the gRPC
// thread that received it (bad requests are answered there at once), then
// handed to the event loop with boost::asio::post; the loop runs its checks
// and hands the call to a Finisher (agent/grpc/finisher.h), whose thread
// completes it (ServerUnaryReactor::Finish may be called from any thread):
// encoding and writing the answer is most of a call's cost, and the loop
// that serves every door should not pay it (measured: about 16 us of the
// loop per call when it finished calls itself). No gRPC thread ever waits
// for the loop, and the loop never waits for gRPC except in Stop(). Between
// them, a mutex guards the table of calls handed over and not yet decided,
// and another the Finisher's queue.
//
// Calls whose client went away (cancelled, deadline passed, connection
// closed) before the loop reached them are answered CANCELLED without
// checking: no tokens are taken for an answer nobody reads.
//
// Limits: a request message is at most max_receive_bytes (gRPC answers
// RESOURCE_EXHAUSTED beyond it, before the agent sees it), with at most
// rls::kMaxDescriptors descriptors. Errors: INVALID_ARGUMENT with what was
// wrong and what would be right; RESOURCE_EXHAUSTED when --max-buckets is
// reached; UNAVAILABLE once the agent is stopping.
//
// Plain text (no TLS), no authentication: like --tcp, keep it on loopback
// (a non-loopback address is served, with a warning in the log).
//
// Thread-safety: as every FrontDoor (agent/front_door.h): construct,
// Start(), Stop() and destroy on the event loop's thread or while it does
// not run; calls_waiting() and calls_cancelled() from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "agent/front_door.h"
#include "agent/grpc/finisher.h"
#include "common/descriptor.h"
#include "common/status.h"

namespace sluice {

struct RlsServerOptions {
  // HOST:PORT to listen on; port 0 picks a free port (port()).
  std::string address;
  // Largest request message accepted. Default 64 KiB, as a RESP frame.
  int max_receive_bytes = 64 * 1024;
  // How long Stop() lets gRPC finish sending answers already given.
  int64_t shutdown_grace_ms = 1000;
};

class RlsServer final : public FrontDoor {
 public:
  RlsServer(const FrontDoorContext& context, RlsServerOptions options);
  ~RlsServer() override;  // Stop()s
  RlsServer(const RlsServer&) = delete;
  RlsServer& operator=(const RlsServer&) = delete;

  // A factory for AgentOptions::front_doors.
  static FrontDoorFactory Factory(RlsServerOptions options);

  Status Start() override;
  // Answers every call not yet answered with UNAVAILABLE, then shuts the
  // gRPC server down (waiting at most shutdown_grace_ms).
  void Stop() override;
  std::string Describe() const override;

  // The bound port (useful with port 0); 0 before Start().
  int port() const { return port_; }
  // Calls handed to the event loop and not yet answered.
  size_t calls_waiting() const;
  // Calls whose client cancelled or went away before they were answered.
  uint64_t calls_cancelled() const { return cancelled_.load(); }

 private:
  class Call;
  class Service;

  // gRPC thread: a valid call to run on the event loop (or answered
  // UNAVAILABLE at once when stopping).
  void HandOver(Call* call);
  // Event loop: runs and answers call `id` unless Stop() answered it.
  void Run(uint64_t id);

  FrontDoorContext context_;
  RlsServerOptions options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Finisher> finisher_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<uint64_t> cancelled_{0};
  Descriptor scratch_;  // event loop only
  // Expires with the server: a Run() posted and not yet run when the
  // server is destroyed (on the loop's thread) does nothing.
  std::shared_ptr<char> alive_ = std::make_shared<char>();

  mutable std::mutex mu_;
  bool stopping_ = false;                        // guarded by mu_
  uint64_t next_id_ = 1;                         // guarded by mu_
  std::unordered_map<uint64_t, Call*> waiting_;  // guarded by mu_
};

}  // namespace sluice
