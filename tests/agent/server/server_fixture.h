// ServerFixture: agent Servers (agent/server/server.h) on an io_context run
// by a thread of their own, over a Checker with two per-client rules:
//   api  (id 1): 10 per second, burst 5;
//   slow (id 2): one token a day after a burst of 5, so an emptied bucket
//        stays empty for the whole test.
// The base of the server and hostile-client tests. Each test gets a fresh
// temporary directory (dir_) and the main server on socket_path(), kept
// in server_; every server started is stopped when the test ends. Servers
// and the rules take their time from clock_: the real clock unless a
// derived fixture points it, before SetUp(), at a SimulatedClock
// (tests/support/simulated_clock.h).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command_handler.h"
#include "agent/server/server.h"
#include "common/rule_index.h"
#include "platform/system_clock.h"

namespace sluice::testing {

class ServerFixture : public ::testing::Test {
 protected:
  static Rule PerClientRule(int64_t id, const std::string& domain,
                            int64_t limit, int64_t period_ms) {
    Rule rule;
    rule.id = id;
    rule.version = 1;
    rule.name = domain + "-per-client";
    rule.domain = domain;
    rule.match = {{"client_id", "*"}};
    rule.limit = limit;
    rule.period_ms = period_ms;
    rule.burst = 5;
    return rule;
  }

  void SetUp() override {
    char tmpl[] = "/tmp/sluice-server-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    checker_.SetRules(
        RuleIndex::Build({PerClientRule(1, "api", 10, 1000),
                          PerClientRule(2, "slow", 1, 24 * 3600 * 1000)},
                         1),
        clock_->NowNanos());
    thread_ = std::thread([this] { io_.run(); });
    ServerOptions options;
    options.socket_path = socket_path();
    options.tcp = "127.0.0.1:0";
    server_ = StartServer(options);
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    OnIo([this] {
      for (auto& server : servers_) server->Stop();
    });
    guard_.reset();
    io_.stop();
    thread_.join();
    servers_.clear();
    std::system(("rm -rf " + dir_).c_str());
  }

  // Runs `f` on the io thread and waits for it.
  template <typename F>
  auto OnIo(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto future = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return future.get();
  }

  // Starts a server (kept until the test ends). On failure: nullptr, and
  // the status in *status_out, or a test failure when it is null.
  Server* StartServer(const ServerOptions& options,
                      Status* status_out = nullptr) {
    return OnIo([&]() -> Server* {
      auto server = std::make_unique<Server>(&io_, options, &handler_, clock_);
      const Status status = server->Start();
      if (status_out != nullptr) *status_out = status;
      if (!status.ok()) {
        if (status_out == nullptr) ADD_FAILURE() << status.ToString();
        return nullptr;
      }
      servers_.push_back(std::move(server));
      return servers_.back().get();
    });
  }

  void StopServer(Server* server) {
    OnIo([server] { server->Stop(); });
  }
  size_t Connections(Server* server) {
    return OnIo([server] { return server->connection_count(); });
  }
  uint64_t Accepted(Server* server) {
    return OnIo([server] { return server->connections_accepted(); });
  }

  std::string socket_path() const { return dir_ + "/agent.sock"; }

  const Clock* clock_ = &SystemClock::Get();
  std::string dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      guard_ = boost::asio::make_work_guard(io_);
  std::thread thread_;
  Checker checker_{100000};
  CommandHandler handler_{&checker_};
  std::vector<std::unique_ptr<Server>> servers_;
  Server* server_ = nullptr;  // the main one, on socket_path()
};

}  // namespace sluice::testing
