// A ROUTER driven by a test, standing in for sluice-controller on the agent
// channel (common/wire.h): it waits for the agent's messages and answers
// the last agent it heard from.
//
// Thread-compatible: one test thread drives it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/wire.h"

namespace sluice::testing {

class FakeController {
 public:
  static constexpr std::chrono::milliseconds kDefaultWait{10000};

  FakeController(zmq::context_t& context, const std::string& endpoint)
      : socket_(context, zmq::socket_type::router) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(endpoint);
  }

  // Waits for a T from the agent (skipping other types, but keeping every
  // LeaseRequest in requests()); remembers the agent's id.
  template <typename T>
  std::optional<T> Await(std::chrono::milliseconds timeout = kDefaultWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::optional<WireMessage> message = Next(deadline)) {
      if (const T* typed = std::get_if<T>(&*message)) return *typed;
    }
    return std::nullopt;
  }

  // Reads whatever the agent sends, for `timeout`.
  void Drain(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Next(deadline)) {
    }
  }

  void Send(const WireMessage& message) {
    SendFrames({EncodeWireMessage(message)});
  }
  void SendFrames(const std::vector<std::string>& frames) {
    socket_.send(zmq::buffer(peer_), zmq::send_flags::sndmore);
    for (size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]), i + 1 < frames.size()
                                               ? zmq::send_flags::sndmore
                                               : zmq::send_flags::none);
    }
  }

  const std::vector<LeaseRequest>& requests() const { return requests_; }
  void ClearRequests() { requests_.clear(); }

 private:
  // The next message before `deadline`, or nothing.
  std::optional<WireMessage> Next(
      std::chrono::steady_clock::time_point deadline) {
    using Clock = std::chrono::steady_clock;
    while (Clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (zmq::poll(&item, 1, left) == 0) break;
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(socket_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        continue;
      }
      EXPECT_EQ(parts.size(), 2u);
      if (parts.size() != 2) continue;
      peer_ = parts[0].to_string();
      StatusOr<WireMessage> decoded =
          DecodeWireMessage(parts[1].to_string_view());
      EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
      if (!decoded.ok()) continue;
      if (const auto* request = std::get_if<LeaseRequest>(&decoded.value())) {
        requests_.push_back(*request);
      }
      return std::move(decoded.value());
    }
    return std::nullopt;
  }

  zmq::socket_t socket_;
  std::string peer_;
  std::vector<LeaseRequest> requests_;
};

}  // namespace sluice::testing
