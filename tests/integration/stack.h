// Stack: a real sluice-controller and sluice-agent as child processes on a
// fresh PostgreSQL database, for end-to-end tests. Everything it starts is
// stopped by PID when it goes away.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <functional>
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

// A connection to the agent through hiredis, a real Redis client.
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

class Stack {
 public:
  static constexpr const char* kToken = "integration-admin-token";

  Stack();
  ~Stack();

  void StartController();
  void StartAgent();
  ChildProcess& controller() { return controller_; }
  ChildProcess& agent() { return agent_; }
  const std::string& socket_path() const { return socket_path_; }
  std::string http_base() const;

  // An HTTP request to the controller with the admin token.
  HttpResult Http(const std::string& method, const std::string& path,
                  const std::string& body = "");

 private:
  TestDatabase db_;
  std::string dir_;
  std::string socket_path_;
  uint16_t http_port_ = 0;
  uint16_t agents_port_ = 0;
  ChildProcess controller_;
  ChildProcess agent_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool Eventually(std::chrono::milliseconds timeout,
                const std::function<bool()>& condition);

}  // namespace sluice::testing
