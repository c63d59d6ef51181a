// TcpRelay: a TCP man-in-the-middle for tests. It listens on 127.0.0.1 (a
// free port), forwards every connection to 127.0.0.1:target_port, and keeps
// a copy of every byte it forwards, both ways — what a capture on the wire
// would show, without root or tshark. SetDown(true) stands in for a server
// that has stopped: every connection is closed, and new ones are accepted
// and closed at once, until SetDown(false).
//
// Thread-safe: one thread forwards; Captured() and port() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "platform/mutex.h"

namespace sluice::testing {

class TcpRelay {
 public:
  // Listens at once; throws std::runtime_error when it cannot. With
  // `capture` false nothing is kept (for long runs).
  explicit TcpRelay(uint16_t target_port, bool capture = true);
  ~TcpRelay();  // stops the thread, closes every connection
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }
  // Every byte forwarded so far, in both directions, in arrival order.
  std::string Captured() const EXCLUDES(mu_);
  int64_t connections() const { return connections_.load(); }
  // While down, no byte passes (see the top); returns once every open
  // connection is closed.
  void SetDown(bool down);

 private:
  void Run() EXCLUDES(mu_);

  // The thread's loop: accepts, forwards, closes what is dead (false:
  // stop).
  bool Step(std::vector<int>* fds) EXCLUDES(mu_);
  void Wake(char what);

  const uint16_t target_port_;
  const bool capture_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // pipe: written to stop the thread
  std::thread thread_;
  std::atomic<int64_t> connections_{0};
  std::atomic<bool> down_{false};
  std::atomic<int64_t> down_applied_{0};  // SetDown calls the thread has seen
  std::atomic<int64_t> down_requests_{0};
  mutable Mutex mu_;
  std::string captured_ GUARDED_BY(mu_);
};

}  // namespace sluice::testing
