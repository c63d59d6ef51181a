// CurveGate: the lease server's CurveZMQ side. Configure() makes the
// server's ROUTER a CURVE server (the channel is encrypted) and starts a
// ZAP handler (curve_zap.h) that admits, at the handshake, only agents
// whose public key is in AllowedAgentKeys. Since ZAP runs only at the
// handshake, the server also checks every message's key against the live
// set (AllowedKeyOf), and after each change of the set (Refresh) forgets
// the agents whose key left it: a revoked agent gets no answer from then
// on.
//
// Thread-compatible: the lease thread owns it (the ZAP handler runs its
// own thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <zmq.hpp>

#include "common/status.h"
#include "controller/lease/curve_allowed_keys.h"
#include "controller/lease/curve_zap.h"

namespace sluice {

class CurveGate {
 public:
  // Makes `router` (not bound yet: the handler must be bound before the
  // ROUTER accepts a handshake) a CURVE server with `secret_key` (Z85),
  // with a ZAP handler on `context` admitting the keys of *allowed.
  // FailedPrecondition without `allowed` (every agent that knows the
  // server's public key would get in); InvalidArgument for a malformed key;
  // Unavailable when the handler cannot bind. `context`, `router` and
  // `allowed` must outlive the gate; destroy the gate before the router.
  static StatusOr<std::unique_ptr<CurveGate>> Configure(
      zmq::context_t* context, zmq::socket_t* router,
      const std::string& secret_key, const AllowedAgentKeys* allowed);

  // The key (Z85) a message was authenticated with, when it is allowed
  // now; else nullptr. `frame`: any frame of the message (libzmq attaches
  // the ZAP reply's user id, the key, to each). Valid until Refresh().
  const std::string* AllowedKeyOf(const zmq::message_t& frame) const;
  // The key a message was authenticated with, allowed or not; nullptr
  // when it has none (not authenticated by our handler).
  static const char* KeyOf(const zmq::message_t& frame);
  // Takes the allowed set if it changed since the last call: true then.
  bool Refresh();
  bool Allows(const std::string& key) const { return allowed_->count(key) > 0; }
  // True the first time a message from `peer` is refused (a revoked agent
  // keeps sending until it gives up: warn once). Remembers at most 4096
  // peers, then starts afresh.
  bool FirstRefusal(const std::string& peer);

 private:
  CurveGate(const AllowedAgentKeys* allowed, std::unique_ptr<ZapHandler> zap);

  const AllowedAgentKeys* const allowed_keys_;
  std::unique_ptr<ZapHandler> zap_;
  // The version first: a change landing between the two reads is taken at
  // the next Refresh().
  uint64_t allowed_version_;
  std::shared_ptr<const AllowedAgentKeys::Map> allowed_;  // never null
  std::unordered_set<std::string> refused_peers_;
};

}  // namespace sluice
