// RawAgent: the agent's side of the agent channel, by hand, for tests of
// the lease server: one ZeroMQ DEALER speaking the wire protocol
// (common/wire.h), optionally with CurveZMQ client keys.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>

#include "common/wire.h"
#include "platform/curve_keys.h"

namespace sluice::testing {

class RawAgent {
 public:
  using milliseconds = std::chrono::milliseconds;
  // How long Await() waits by default for an answer.
  static constexpr milliseconds kWait{2000};

  // Plain text (no `keys`), or CurveZMQ with this agent's `keys` and the
  // controller's public key `server_key`.
  RawAgent(zmq::context_t& context, const std::string& endpoint,
           const CurveKeyPair& keys = {}, const std::string& server_key = "")
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::reconnect_ivl, 100);
    socket_.set(zmq::sockopt::reconnect_ivl_max, 200);
    if (!keys.secret_key.empty()) {
      socket_.set(zmq::sockopt::curve_serverkey, server_key);
      socket_.set(zmq::sockopt::curve_publickey, keys.public_key);
      socket_.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    }
    socket_.connect(endpoint);
  }

  void Send(const WireMessage& message) { SendRaw(EncodeWireMessage(message)); }
  // Never blocks: before the connection is up the message is queued (no
  // ZMQ_IMMEDIATE); a refused CurveZMQ handshake drops it, as the real
  // agent's.
  void SendRaw(const std::string& bytes) {
    socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  }
  void SendFrames(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]), i + 1 < frames.size()
                                               ? zmq::send_flags::sndmore
                                               : zmq::send_flags::dontwait);
    }
  }

  // The next message, or nullopt after `timeout`.
  std::optional<WireMessage> Receive(milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
    StatusOr<WireMessage> decoded = DecodeWireMessage(frame.to_string_view());
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return std::nullopt;
    return decoded.value();
  }

  // Whether anything at all arrives within `timeout`.
  bool HearsAnything(milliseconds timeout) {
    return Receive(timeout).has_value();
  }

  // Skips other messages until a T satisfying `accept` arrives.
  template <typename T>
  std::optional<T> Await(std::function<bool(const T&)> accept = nullptr,
                         milliseconds timeout = kWait) {
    using SteadyClock = std::chrono::steady_clock;
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline -
                                                           SteadyClock::now());
      std::optional<WireMessage> message = Receive(left);
      if (!message) break;
      if (const T* typed = std::get_if<T>(&*message)) {
        if (!accept || accept(*typed)) return *typed;
      }
    }
    return std::nullopt;
  }

  // Asks for a lease and returns the answer.
  std::optional<LeaseGrant> Lease(uint64_t seq, std::vector<LeaseWant> items) {
    LeaseRequest request;
    request.seq = seq;
    request.items = std::move(items);
    Send(request);
    return Await<LeaseGrant>(
        [seq](const LeaseGrant& grant) { return grant.seq == seq; });
  }

  // A Hello answered by a snapshot (nullopt after `timeout`).
  std::optional<RulesSnapshot> Connect(const std::string& id = "agent-1",
                                       milliseconds timeout = kWait) {
    Hello hello;
    hello.agent_id = id;
    Send(hello);
    return Await<RulesSnapshot>(nullptr, timeout);
  }

 private:
  zmq::socket_t socket_;
};

}  // namespace sluice::testing
