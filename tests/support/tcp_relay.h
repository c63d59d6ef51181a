// TcpRelay: a TCP man-in-the-middle for tests. It listens on 127.0.0.1 (a
// free port), forwards every connection to 127.0.0.1:target_port, and keeps
// a copy of every byte it forwards, both ways — what a capture on the wire
// would show, without root or tshark.
//
// Thread-safe: one thread forwards; Captured() and port() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "platform/mutex.h"

namespace sluice::testing {

class TcpRelay {
 public:
  // Listens at once; throws std::runtime_error when it cannot.
  explicit TcpRelay(uint16_t target_port);
  ~TcpRelay();  // stops the thread, closes every connection
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  // Every byte forwarded so far, in both directions, in arrival order.
  std::string Captured() const EXCLUDES(mu_);
  int64_t connections() const { return connections_.load(); }

 private:
  void Run() EXCLUDES(mu_);

  const uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // pipe: written to stop the thread
  std::thread thread_;
  std::atomic<int64_t> connections_{0};
  mutable Mutex mu_;
  std::string captured_ GUARDED_BY(mu_);
};

}  // namespace sluice::testing
