// DoorFixture: the base of the front-door tests (tests/agent/grpc,
// tests/agent/http_check): an io_context run by a thread of its own, as
// the agent's event loop, with a Checker on a ManualClock (time moves only
// when a test moves it, on the loop's thread, so counts are exact) holding
// these rules:
//   1 api-per-client   api    client_id=*        10 per 1s,   burst 5
//   2 api-search       api    route=/search       3 per 1m,   burst 3
//   3 slow-per-client  slow   client_id=*         1 per 1d,   burst 5
//   4 shadow-client    shadow client_id=*         1 per 1s,   burst 1, shadow
//   5 fast-per-client  fast   client_id=*         5 per 500ms, burst 5
// A "twin" (StartTwin) is a second Checker with the same rules and clock
// behind the RESP Server (agent/server/server.h) on a Unix socket: the door
// under test and RL.CHECK, side by side, must give the same decisions.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command_handler.h"
#include "agent/front_door.h"
#include "agent/server/server.h"
#include "common/clock.h"
#include "common/rule_index.h"
#include "tests/agent/hiredis_client.h"

namespace sluice::testing {

// One check of a side-by-side script: move the clock, then check.
struct CheckStep {
  int64_t advance_ms = 0;
  std::string domain;
  int64_t cost = 1;
  std::vector<std::pair<std::string, std::string>> pairs;
};

// A reproducible mix of checks over the fixture's rules: every domain
// (and one without rules), a few clients so that buckets empty, the
// /search route (two rules at once), costs above a burst, and the clock
// moving by nothing, a little, or enough to refill.
inline std::vector<CheckStep> SideBySideScript(size_t steps, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&rng](const auto& options) {
    return options[std::uniform_int_distribution<size_t>(
        0, options.size() - 1)(rng)];
  };
  const std::vector<std::string> domains = {"api",  "api",    "slow",
                                            "fast", "shadow", "nowhere"};
  const std::vector<std::string> clients = {"a", "b", "c"};
  const std::vector<int64_t> costs = {1, 1, 1, 1, 2, 3, 7};
  const std::vector<int64_t> advances = {0, 0, 0, 0, 7, 50, 130, 400, 20000};
  std::vector<CheckStep> script;
  for (size_t i = 0; i < steps; ++i) {
    CheckStep step;
    step.advance_ms = pick(advances);
    step.domain = pick(domains);
    step.cost = pick(costs);
    step.pairs.emplace_back("client_id", pick(clients));
    if (step.domain == "api" && rng() % 2 == 0) {
      step.pairs.emplace_back("route", "/search");
    }
    script.push_back(std::move(step));
  }
  return script;
}

class DoorFixture : public ::testing::Test {
 protected:
  static Rule MakeRule(int64_t id, const std::string& name,
                       const std::string& domain, const std::string& key,
                       const std::string& value, int64_t limit,
                       int64_t period_ms, int64_t burst,
                       RuleMode mode = RuleMode::kEnforce) {
    Rule rule;
    rule.id = id;
    rule.version = 1;
    rule.name = name;
    rule.domain = domain;
    rule.match = {{key, value}};
    rule.limit = limit;
    rule.period_ms = period_ms;
    rule.burst = burst;
    rule.mode = mode;
    return rule;
  }

  static std::shared_ptr<const RuleIndex> Rules() {
    constexpr int64_t kDay = 24 * 3600 * 1000;
    return RuleIndex::Build(
        {MakeRule(1, "api-per-client", "api", "client_id", "*", 10, 1000, 5),
         MakeRule(2, "api-search", "api", "route", "/search", 3, 60 * 1000, 3),
         MakeRule(3, "slow-per-client", "slow", "client_id", "*", 1, kDay, 5),
         MakeRule(4, "shadow-client", "shadow", "client_id", "*", 1, 1000, 1,
                  RuleMode::kShadow),
         MakeRule(5, "fast-per-client", "fast", "client_id", "*", 5, 500, 5)},
        1);
  }

  void SetUp() override {
    char tmpl[] = "/tmp/sluice-door-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    checker_.SetRules(Rules(), clock_.NowNanos());
    twin_checker_.SetRules(Rules(), clock_.NowNanos());
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    OnIo([this] {
      for (auto& door : doors_) door->Stop();
      doors_.clear();
      if (twin_) twin_->Stop();
      twin_.reset();
    });
    guard_.reset();
    io_.stop();
    thread_.join();
    std::system(("rm -rf " + dir_).c_str());
  }

  // Runs `f` on the loop's thread and waits for it.
  template <typename F>
  auto OnIo(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto future = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return future.get();
  }

  FrontDoorContext Context() {
    return FrontDoorContext{&io_, &checker_, &clock_, [this] { ++checked_; }};
  }

  // Builds a door with `factory` on the loop and starts it; null (and a
  // test failure, unless status_out is given) when Start() fails. Doors
  // are stopped and destroyed on the loop when the test ends.
  template <typename Door>
  Door* StartDoor(
      std::function<std::unique_ptr<Door>(const FrontDoorContext&)> make,
      Status* status_out = nullptr) {
    return OnIo([&]() -> Door* {
      std::unique_ptr<Door> door = make(Context());
      const Status status = door->Start();
      if (status_out != nullptr) *status_out = status;
      if (!status.ok()) {
        if (status_out == nullptr) ADD_FAILURE() << status.ToString();
        return nullptr;
      }
      Door* raw = door.get();
      doors_.push_back(std::move(door));
      return raw;
    });
  }

  // Starts the RESP server of the twin checker on twin_socket().
  void StartTwin() {
    OnIo([this] {
      ServerOptions options;
      options.socket_path = twin_socket();
      twin_ = std::make_unique<Server>(&io_, options, &twin_handler_, &clock_);
      const Status status = twin_->Start();
      ASSERT_TRUE(status.ok()) << status.ToString();
    });
  }
  std::string twin_socket() const { return dir_ + "/twin.sock"; }

  // RL.CHECK on the twin: [allowed, limit, remaining, reset_after_ms,
  // retry_after_ms], or empty on an error reply.
  std::vector<long long> TwinCheck(const CheckStep& step) {
    if (twin_client_ == nullptr) {
      twin_client_.reset(redisConnectUnix(twin_socket().c_str()));
      EXPECT_TRUE(twin_client_ != nullptr && twin_client_->err == 0);
    }
    std::vector<std::string> args = {"RL.CHECK", step.domain,
                                     std::to_string(step.cost)};
    for (const auto& [key, value] : step.pairs) {
      args.push_back(key);
      args.push_back(value);
    }
    return Integers(Command(twin_client_.get(), args).get());
  }

  void AdvanceMillis(int64_t ms) {
    OnIo([this, ms] { clock_.AdvanceMillis(ms); });
  }

  // A peek (cost 0) at the door's checker: what a bucket holds now.
  Decision Peek(const std::string& domain, const Descriptor& d) {
    return OnIo([&] {
      Decision out;
      checker_.Check(domain, 0, d, clock_.NowNanos(), &out);
      return out;
    });
  }

  std::string dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      guard_ = boost::asio::make_work_guard(io_);
  std::thread thread_;
  ManualClock clock_{int64_t{1000} * kNanosPerSecond};
  Checker checker_{100000};
  std::atomic<int> checked_{0};  // on_checked calls
  std::vector<std::unique_ptr<FrontDoor>> doors_;
  // The twin: the same rules behind RL.CHECK.
  Checker twin_checker_{100000};
  CommandHandler twin_handler_{&twin_checker_};
  std::unique_ptr<Server> twin_;
  Redis twin_client_;
};

// Polls `condition` every 2 ms until it holds or `timeout` passes.
inline bool Eventually(
    const std::function<bool()>& condition,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

}  // namespace sluice::testing
