// Connection: one blocking Unix-socket connection to the agent, with the
// buffers a call reuses, and deadlines kept with SO_SNDTIMEO/SO_RCVTIMEO
// (no poll() on the common path: a check is one send() and one recv()).
//
// Not thread-safe: one caller at a time (the pool hands it to one).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "resp_codec.h"
#include "sluice/client.h"

namespace sluice::client::internal {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  // Connects to `path`, waiting at most `connect_timeout`. On failure
  // returns null and says why in *error. `call_timeout` is the default
  // wait of every send and receive.
  static std::unique_ptr<Connection> Open(
      const std::string& path, std::chrono::milliseconds connect_timeout,
      std::chrono::milliseconds call_timeout, std::string* error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The request of the next call: cleared by Send(), capacity kept.
  std::string& request() { return request_; }

  // Sends request() in full by `deadline`. kNone, kTimeout or
  // kConnectionLost (then *error says why and the connection is unusable).
  Error Send(Clock::time_point deadline, std::string* error);

  // Reads the next reply by `deadline`. The reply's error text stays valid
  // until the next ReadReply. kNone, kTimeout, kConnectionLost or
  // kMalformedReply (the connection is then unusable).
  Error ReadReply(Clock::time_point deadline, CheckReply* reply,
                  std::string* error);

  // True when no byte of a reply is waiting: the connection can be reused.
  bool idle() const { return read_start_ == read_end_; }

 private:
  explicit Connection(int fd, std::chrono::milliseconds call_timeout);
  // Before a blocking send/recv: the socket timeout must not outlast
  // `deadline`. False when the deadline has passed.
  bool ArmTimeout(int option, Clock::time_point deadline);

  int fd_;
  std::chrono::milliseconds call_timeout_;
  bool send_timeout_shortened_ = false;
  bool recv_timeout_shortened_ = false;
  std::string request_;
  std::string input_;  // [read_start_, read_end_) not yet parsed
  size_t read_start_ = 0;
  size_t read_end_ = 0;
};

}  // namespace sluice::client::internal
