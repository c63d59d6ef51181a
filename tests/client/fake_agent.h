// FakeAgent: a RESP server on a Unix socket that answers each RL.CHECK it
// receives as the test says (any bytes, nothing, or a hang-up), for the
// client behaviours a real agent does not show on demand: timeouts,
// malformed replies, a connection closed mid-call. One thread accepts,
// one per connection reads; all are stopped and joined by the destructor.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

struct FakeAction {
  std::string reply;   // bytes written back (may be empty: no reply)
  bool close = false;  // close the connection after writing `reply`
};

class FakeAgent {
 public:
  // `respond` is called with the 0-based number of the request (across all
  // connections) and the request's arguments.
  using Respond =
      std::function<FakeAction(int index, const std::vector<std::string>&)>;

  explicit FakeAgent(Respond respond);
  ~FakeAgent();

  const std::string& socket_path() const { return socket_path_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }

  // A well-formed RL.CHECK reply.
  static std::string Reply(int allowed, int limit, int remaining, int reset,
                           int retry);

 private:
  void AcceptLoop();
  void Serve(int fd);

  Respond respond_;
  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::thread> threads_;  // guarded by mu_
  std::thread acceptor_;
};

}  // namespace sluice::testing
