#include "agent/lease/curve_handshake_watch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <string_view>
#include <utility>

#include "common/clock.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-client";
constexpr int64_t kFirstBackoff = kNanosPerSecond;
constexpr int64_t kMaxBackoff = 5 * kNanosPerSecond;
// The same failure is logged again at most this often.
constexpr int64_t kRelogNanos = 60 * kNanosPerSecond;
constexpr int kEvents =
    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;

std::string MonitorEndpoint(const void* self) {
  std::ostringstream out;
  out << "inproc://sluice-curve-handshake-" << self;
  return out.str();
}

}  // namespace

CurveHandshakeWatch::CurveHandshakeWatch(zmq::context_t& context,
                                         zmq::socket_t* dealer,
                                         std::string endpoint,
                                         std::string public_key)
    : dealer_(dealer),
      endpoint_(std::move(endpoint)),
      public_key_(std::move(public_key)),
      monitor_(context, zmq::socket_type::pair) {
  const std::string address = MonitorEndpoint(this);
  if (zmq_socket_monitor(dealer_->handle(), address.c_str(), kEvents) != 0) {
    throw zmq::error_t();
  }
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(address);
}

CurveHandshakeWatch::~CurveHandshakeWatch() {
  zmq_socket_monitor(dealer_->handle(), nullptr, 0);
}

void CurveHandshakeWatch::Poll(int64_t now) {
  for (;;) {
    // An event is two frames: [uint16 event, uint32 value], endpoint.
    zmq::message_t first;
    if (!monitor_.recv(first, zmq::recv_flags::dontwait)) break;
    uint16_t event = 0;
    uint32_t value = 0;
    const bool well_formed = first.size() == 6;
    if (well_formed) {
      std::memcpy(&event, first.data(), sizeof(event));
      std::memcpy(&value, static_cast<const char*>(first.data()) + 2,
                  sizeof(value));
    }
    while (first.more()) {
      zmq::message_t rest;
      if (!monitor_.recv(rest, zmq::recv_flags::dontwait)) break;
      first.swap(rest);
    }
    if (well_formed) OnEvent(event, value, now);
  }
  if (!retry_pending_ || now < retry_at_) return;
  retry_pending_ = false;
  ++reconnects_;
  // The refused connection is dead for libzmq; start a fresh one.
  try {
    dealer_->disconnect(endpoint_);
  } catch (const zmq::error_t& e) {
    if (e.num() != ENOENT) throw;  // ENOENT: libzmq dropped it already
  }
  dealer_->connect(endpoint_);
}

void CurveHandshakeWatch::OnEvent(uint16_t event, uint32_t value, int64_t now) {
  if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
    if (backoff_ > 0) {
      LogInfo(kLog, "CurveZMQ handshake with the controller at " + endpoint_ +
                        " succeeded after " + std::to_string(refusals_) +
                        " refusals");
    }
    backoff_ = 0;
    retry_pending_ = false;
    last_logged_event_ = 0;
    return;
  }
  ++refusals_;
  backoff_ =
      backoff_ == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  if (!retry_pending_) {
    retry_pending_ = true;
    retry_at_ = now + backoff_;
  }
  if (event == last_logged_event_ && now - last_log_ < kRelogNanos &&
      now >= last_log_) {
    return;
  }
  last_logged_event_ = event;
  last_log_ = now;
  std::string why;
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    why = "the controller refused this agent's CurveZMQ key (status " +
          std::to_string(value) + "): an admin must allow public key " +
          public_key_ + " (POST /api/v1/agent-keys), or it was revoked";
  } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
    why = "the CurveZMQ handshake failed (protocol error " +
          std::to_string(value) +
          "): check that --controller-public-key is the public= line of the "
          "controller's key file and that the controller runs with "
          "--curve-secret-key-file";
  } else {
    why = std::string("the CurveZMQ handshake failed (") +
          std::strerror(static_cast<int>(value)) +
          "): is the endpoint a sluice-controller?";
  }
  LogWarn(kLog, "cannot connect to the controller at " + endpoint_ + ": " +
                    why +
                    "; retrying every few seconds (logged once a "
                    "minute)");
}

}  // namespace sluice
