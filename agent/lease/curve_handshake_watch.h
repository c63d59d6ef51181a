// CurveHandshakeWatch: keeps the agent's CurveZMQ DEALER trying after the
// controller refuses a handshake.
//
// libzmq 4.3 treats a refused handshake (the controller's ZAP handler
// answering "400" for a key it does not allow, or a wrong server key) as a
// protocol error and stops reconnecting that endpoint for good. An agent
// must keep trying: an admin may allow its key at any time, or the
// controller may come back with the right key. So this watches the
// socket's monitor for handshake events, says in the log what went wrong
// and what would fix it, and connects the endpoint again with back-off
// (1 s, doubling to 5 s) until a handshake succeeds.
//
// Thread-compatible: construct, Poll() and destroy on the socket's thread.
#pragma once

#include <cstdint>
#include <string>
#include <zmq.hpp>

namespace sluice {

class CurveHandshakeWatch {
 public:
  // Starts monitoring `dealer` (which must outlive this). Call before
  // dealer->connect(endpoint). `public_key` (Z85) is named in the log.
  // Throws zmq::error_t when the monitor cannot be set up.
  CurveHandshakeWatch(zmq::context_t& context, zmq::socket_t* dealer,
                      std::string endpoint, std::string public_key);
  ~CurveHandshakeWatch();
  CurveHandshakeWatch(const CurveHandshakeWatch&) = delete;
  CurveHandshakeWatch& operator=(const CurveHandshakeWatch&) = delete;

  // Reads pending monitor events without blocking; reconnects when a
  // refused handshake's back-off has passed. `now`: the client's clock.
  void Poll(int64_t now);

  int64_t refusals() const { return refusals_; }
  int64_t reconnects() const { return reconnects_; }

 private:
  void OnEvent(uint16_t event, uint32_t value, int64_t now);

  zmq::socket_t* const dealer_;
  const std::string endpoint_;
  const std::string public_key_;
  zmq::socket_t monitor_;
  bool retry_pending_ = false;
  int64_t retry_at_ = 0;
  int64_t backoff_ = 0;  // nanos; 0 until the first refusal
  int64_t last_log_ = 0;
  uint16_t last_logged_event_ = 0;
  int64_t refusals_ = 0;
  int64_t reconnects_ = 0;
};

}  // namespace sluice
