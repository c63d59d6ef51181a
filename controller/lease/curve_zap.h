// ZapHandler: the ZeroMQ Authentication Protocol handler (ZAP, rfc.zeromq.org
// spec 27) that admits CurveZMQ agents whose public key is allowed.
//
// libzmq asks it about every CURVE handshake on any socket of the same
// context: a REP socket bound to inproc://zeromq.zap.01 gets [version,
// request id, domain, address, routing id, mechanism, client public key (32
// bytes)] and answers [version, request id, status, text, user id,
// metadata]. The handler answers "200" with user id = the key in Z85 when
// the key is in AllowedAgentKeys now, and "400" otherwise (the handshake
// fails, the agent gets nothing). libzmq then attaches the user id to every
// message from that connection as the "User-Id" property, which the lease
// server checks per message, so a key revoked after its handshake is cut
// off too (ZAP runs only at the handshake).
//
// One thread per handler, polling every 20 ms for Stop(). Refusals are
// logged once per key per minute (an unknown agent retries every second).
//
// Start() must bind before the server socket binds: libzmq 4.3 lets a
// CURVE handshake through when no handler is bound.
//
// Thread-safety: Start/Stop from one thread; the counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "common/status.h"
#include "controller/lease/curve_allowed_keys.h"

namespace sluice {

class ZapHandler {
 public:
  static constexpr const char* kEndpoint = "inproc://zeromq.zap.01";

  // `context` (the server socket's) and `allowed` must outlive the handler.
  ZapHandler(zmq::context_t* context, const AllowedAgentKeys* allowed);
  ~ZapHandler();  // Stop()s
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Binds kEndpoint and starts the thread. Unavailable when the endpoint is
  // taken (another handler in this context).
  Status Start();
  void Stop();

  int64_t accepted() const { return accepted_.load(); }
  int64_t refused() const { return refused_.load(); }

  // The reply frames for one request (exposed for tests).
  std::vector<std::string> Answer(const std::vector<std::string>& request);

 private:
  void Run();
  void LogRefusal(const std::string& key, const std::string& address,
                  const std::string& why);

  zmq::context_t* const context_;
  const AllowedAgentKeys* const allowed_;
  std::unique_ptr<zmq::socket_t> socket_;  // used by the thread only
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> refused_{0};
  // Last time (steady ns) a refusal of each key was logged; thread only.
  std::unordered_map<std::string, int64_t> logged_;
};

}  // namespace sluice
