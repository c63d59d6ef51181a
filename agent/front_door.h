// FrontDoor: a listener that answers checks in another protocol than RESP
// (agent/grpc/: Envoy's rate limit service; agent/http_check/: an HTTP
// check for nginx auth_request and Traefik forwardAuth). Each decides
// through the agent's one Checker, so every door gives the same decisions
// from the same buckets as RL.CHECK.
//
// The agent builds its doors from AgentOptions::front_doors (factories, so
// that agent/ needs no gRPC or HTTP library itself) when it is
// constructed, starts them after the RESP server, and stops them with it.
//
// Thread-safety: the Checker belongs to the agent's event loop (see
// agent/agent.h): a door touches it, and calls on_checked, only from a
// handler run by `io`. Start(), Stop() and the destructor run on that
// thread, or while it is not running. A door may run threads of its own
// (gRPC does); they must hand every check to `io` (boost::asio::post).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "agent/check/checker.h"
#include "common/clock.h"
#include "common/status.h"

namespace sluice {

// What a door gets from the agent.
struct FrontDoorContext {
  boost::asio::io_context* io = nullptr;
  Checker* checker = nullptr;  // only on io's thread
  const Clock* clock = nullptr;
  // Call after a request's checks (on io's thread): the agent sends the
  // lease requests they queued (Agent::OnBatch).
  std::function<void()> on_checked;
};

class FrontDoor {
 public:
  virtual ~FrontDoor() = default;
  // Binds and starts serving. Fails with a message naming the address and
  // what to change; nothing is left running then.
  virtual Status Start() = 0;
  // Stops accepting and ends every open call or connection. Idempotent.
  virtual void Stop() = 0;
  // For the agent's "ready" log line: "grpc=127.0.0.1:0 (port 40123)".
  virtual std::string Describe() const = 0;
};

using FrontDoorFactory =
    std::function<std::unique_ptr<FrontDoor>(const FrontDoorContext&)>;

}  // namespace sluice
