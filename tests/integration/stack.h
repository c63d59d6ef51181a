// Stack: a real sluice-controller and sluice-agents as child processes on a
// fresh PostgreSQL database, for end-to-end tests. Everything it starts is
// stopped by PID when it goes away.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

// The five integers of an RL.CHECK reply.
struct CheckReply {
  int64_t allowed = -2, limit = -2, remaining = -2, reset_after_ms = -2,
          retry_after_ms = -2;
  std::string error;  // set when the reply was not a 5-integer array
};

// A connection to the agent through hiredis, a real Redis client; a reply
// is awaited 10 s at most (then the call fails as a broken connection).
class RedisClient {
 public:
  explicit RedisClient(const std::string& socket_path);
  ~RedisClient();
  bool connected() const { return ctx_ != nullptr && ctx_->err == 0; }
  // Sends argv, returns the reply (nullptr on a broken connection).
  std::unique_ptr<redisReply, void (*)(void*)> Command(
      const std::vector<std::string>& argv);
  CheckReply Check(const std::vector<std::string>& argv);

 private:
  redisContext* ctx_ = nullptr;
};

struct HttpResult {
  int status = 0;
  std::string body;
};

// Agents are numbered from 0; agent i serves RESP on socket_path(i) and
// calls itself "it-agent" (i = 0) or "it-agent-<i>". The controller can be
// killed (controller().Kill()) and started again on the same ports and
// database; extra flags given to StartController are kept for restarts
// made with RestartController().
class Stack {
 public:
  static constexpr const char* kToken = "integration-admin-token";

  Stack();
  ~Stack();

  // Starts the controller (with --metrics on metrics_port()) and waits for
  // /readyz. `extra_args` are appended to its command line.
  void StartController(const std::vector<std::string>& extra_args = {});
  // Starts it again with the last extra_args (after a Kill or Stop).
  void RestartController();
  // Starts agent `index` and waits until it answers PING. `extra_args`
  // are appended to its command line, `env` to its environment.
  void StartAgent(size_t index = 0,
                  const std::vector<std::string>& extra_args = {},
                  const std::map<std::string, std::string>& env = {});
  ChildProcess& controller() { return controller_; }
  ChildProcess& agent(size_t index = 0);
  std::string socket_path(size_t index = 0) const;
  std::string http_base() const;
  uint16_t metrics_port() const { return metrics_port_; }

  // An HTTP request to the controller with the admin token.
  HttpResult Http(const std::string& method, const std::string& path,
                  const std::string& body = "");
  // The value of an unlabelled metric on the controller's /metrics, or -1
  // when it is missing or the endpoint does not answer.
  double ControllerMetric(const std::string& name);

 private:
  TestDatabase db_;
  std::string dir_;
  uint16_t http_port_ = 0;
  uint16_t agents_port_ = 0;
  uint16_t metrics_port_ = 0;
  std::vector<std::string> controller_args_;
  ChildProcess controller_;
  std::map<size_t, std::unique_ptr<ChildProcess>> agents_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool Eventually(std::chrono::milliseconds timeout,
                const std::function<bool()>& condition);

}  // namespace sluice::testing
