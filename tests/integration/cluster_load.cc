#include "tests/integration/cluster_load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

nlohmann::json TenantRule() {
  return {{"name", "cluster-tenants"},
          {"domain", "cluster"},
          {"match", {{"tenant", "*"}}},
          {"limit", kRate},
          {"period", "1s"},
          {"burst", kBurst},
          {"failure_mode", "local"}};
}

nlohmann::json ProbeRule() {
  return {{"name", "cluster-probe"},
          {"domain", "probe"},
          {"match", {{"route", "/probe"}}},
          {"limit", 1000},
          {"period", "1s"},
          {"burst", 1000}};
}

std::vector<std::string> ProbeCheck() {
  return {"RL.CHECK", "probe", "0", "route", "/probe"};
}

bool InfoHas(RedisClient* client, const std::string& line) {
  auto reply = client->Command({"RL.INFO"});
  return reply && reply->type == REDIS_REPLY_STRING &&
         std::string(reply->str, reply->len).find(line + "\r\n") !=
             std::string::npos;
}

}  // namespace

std::vector<std::string> TenantCheck(size_t key) {
  return {"RL.CHECK", "cluster", "1", "tenant", "t" + std::to_string(key)};
}

RuleProber::RuleProber(ClusterStack* stack, int64_t rule_id,
                       nlohmann::json rule)
    : stack_(stack), rule_id_(rule_id), rule_(std::move(rule)) {}

void RuleProber::SetLive(size_t controller, bool live) {
  const uint32_t bit = 1u << controller;
  if (live) {
    live_.fetch_or(bit);
  } else {
    live_.fetch_and(~bit);
  }
}

void RuleProber::Start(Steady::time_point origin) {
  origin_ = origin;
  thread_ = std::thread([this] { Run(); });
}

void RuleProber::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<RuleProber::Probe> RuleProber::probes() {
  std::lock_guard<std::mutex> lock(mu_);
  return probes_;
}

void RuleProber::Run() {
  std::vector<std::unique_ptr<RedisClient>> agents;
  for (size_t a = 0; a < kAgents; ++a) {
    agents.push_back(std::make_unique<RedisClient>(stack_->socket_path(a)));
  }
  size_t next = 0;
  for (int64_t limit = 2000; !stop_.load(); ++limit) {
    const uint32_t live = live_.load();
    if (live == 0) {
      std::this_thread::sleep_for(milliseconds(200));
      continue;
    }
    while ((live & (1u << (next % 32))) == 0) ++next;
    const Probe probe = ProbeOnce(next % 32, limit, &agents);
    ++next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      probes_.push_back(probe);
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

RuleProber::Probe RuleProber::ProbeOnce(
    size_t controller, int64_t limit,
    std::vector<std::unique_ptr<RedisClient>>* agents) {
  Probe probe;
  probe.controller = controller;
  nlohmann::json rule = rule_;
  rule["limit"] = limit;
  const ClusterHttpResult put =
      stack_->Http(controller, "PUT",
                   "/api/v1/rules/" + std::to_string(rule_id_), rule.dump());
  const auto answered = Steady::now();
  probe.status = put.status;
  probe.at = std::chrono::duration<double>(answered - origin_).count();
  if (put.status != 200) return probe;
  std::vector<bool> seen(agents->size(), false);
  const bool arrived = Eventually(milliseconds(5000), [&] {
    bool all = true;
    for (size_t a = 0; a < agents->size(); ++a) {
      if (!seen[a]) seen[a] = (*agents)[a]->Check(ProbeCheck()).limit == limit;
      all = all && seen[a];
    }
    return all;
  });
  if (arrived) {
    probe.delay_s =
        std::chrono::duration<double>(Steady::now() - answered).count();
  }
  return probe;
}

ClusterLoad::ClusterLoad() {
  stack_ = std::make_unique<ClusterStack>(
      kControllers,
      std::vector<std::string>{"--lease-ttl-ms", std::to_string(kLeaseTtlMs)});
  std::vector<size_t> all;
  for (size_t c = 0; c < kControllers; ++c) {
    stack_->StartController(c);
    all.push_back(c);
  }
  for (size_t a = 0; a < kAgents; ++a) stack_->StartAgent(a, all);
  const ClusterHttpResult tenants =
      stack_->Http(0, "POST", "/api/v1/rules", TenantRule().dump());
  const ClusterHttpResult probe =
      stack_->Http(0, "POST", "/api/v1/rules", ProbeRule().dump());
  EXPECT_EQ(tenants.status, 201) << tenants.body;
  EXPECT_EQ(probe.status, 201) << probe.body;
  if (tenants.status != 201 || probe.status != 201) return;
  const auto probe_json = nlohmann::json::parse(probe.body, nullptr, false);
  const int64_t probe_id =
      probe_json.is_object() ? probe_json.value("id", int64_t{-1}) : -1;
  prober_ = std::make_unique<RuleProber>(stack_.get(), probe_id, ProbeRule());
  for (size_t c = 0; c < kControllers; ++c) prober_->SetLive(c, true);
  for (size_t a = 0; a < kAgents; ++a) {
    RedisClient client(stack_->socket_path(a));
    EXPECT_TRUE(Eventually(
        milliseconds(10000),
        [&] {
          return client.Check({"RL.CHECK", "cluster", "0", "tenant", "t0"})
                         .limit == kRate &&
                 InfoHas(&client, "agents:" + std::to_string(kAgents));
        }))
        << "agent " << a << " lacks the rule or the agent count\n"
        << stack_->Logs();
  }
  for (size_t c = 0; c < kControllers; ++c) {
    EXPECT_TRUE(AwaitAgents(c)) << stack_->Logs();
  }
}

bool ClusterLoad::AwaitAgents(size_t controller) {
  return Eventually(milliseconds(5000), [&] {
    return stack_->ControllerMetric(
               controller, "sluice_controller_agents_connected") == kAgents;
  });
}

void ClusterLoad::Start() {
  origin_ = Steady::now();
  const double per_client = 1.5 * kRate / kAgents;
  for (size_t k = 0; k < kKeys; ++k) {
    for (size_t a = 0; a < kAgents; ++a) {
      clients_.push_back(std::make_unique<PacedClient>(
          stack_->socket_path(a), TenantCheck(k), per_client));
      clients_.back()->Start(origin_);
    }
  }
  prober_->Start(origin_);
}

void ClusterLoad::Stop() {
  prober_->Stop();
  for (auto& client : clients_) client->Stop();
  records_.clear();
  errors_ = 0;
  for (auto& client : clients_) {
    records_.push_back(client->records());
    errors_ += client->errors();
  }
}

std::vector<std::vector<Record>> ClusterLoad::Key(size_t key) const {
  return {records_.begin() + static_cast<ptrdiff_t>(key * kAgents),
          records_.begin() + static_cast<ptrdiff_t>((key + 1) * kAgents)};
}

void ClusterLoad::ExpectHeld(const std::string& what, double steady_from) {
  EXPECT_EQ(errors_, 0) << what << ": checks not answered";
  const double end = Now() + 1;
  std::string worst;
  for (size_t k = 0; k < kKeys; ++k) {
    double at = 0;
    const int64_t run = MaxWindow(Key(k), 0, end, 1.0, &at);
    const int64_t steady = MaxWindow(Key(k), steady_from, end, 1.0);
    EXPECT_LE(run, (kBurst + kRate) * 1.05)
        << what << ": tenant t" << k << " admitted " << run
        << " in the 1 s window from " << at << " s";
    worst += " t" + std::to_string(k) + " " + std::to_string(run) + "/" +
             std::to_string(steady);
  }
  std::printf(
      "%s: worst 1 s window per tenant, whole run / from %.1f s (bound "
      "%.0f):%s\n",
      what.c_str(), steady_from, (kBurst + kRate) * 1.05, worst.c_str());
  // Each tenant's admissions per second, second by second.
  for (size_t k = 0; k < kKeys; ++k) {
    std::string line;
    for (double t = 0; t + 1 <= end; t += 1) {
      line += " " + std::to_string(Admitted(Key(k), t, t + 1));
    }
    std::printf("  t%zu per second:%s\n", k, line.c_str());
  }
}

Misses ClusterLoad::ExpectUsed(const std::string& what, double from,
                               double to) {
  Misses misses;
  std::string rates;
  for (size_t k = 0; k < kKeys; ++k) {
    const double rate =
        static_cast<double>(Admitted(Key(k), from, to)) / (to - from);
    rates +=
        " t" + std::to_string(k) + " " + std::to_string(static_cast<int>(rate));
    Soft(&misses, rate >= 0.95 * kRate,
         what + Figure(": tenant admitted %.0f/s, expected at least %.0f/s",
                       rate, 0.95 * kRate));
  }
  std::printf("%s: admitted per second in [%.1f, %.1f) s:%s (limit %.0f)\n",
              what.c_str(), from, to, rates.c_str(),
              static_cast<double>(kRate));
  return misses;
}

Misses ClusterLoad::ExpectFast(const std::string& what, double from,
                               double to) {
  std::vector<Record> all;
  for (const auto& records : records_) {
    all.insert(all.end(), records.begin(), records.end());
  }
  const double p50 = Percentile(all, from, to, 0.5),
               p99 = Percentile(all, from, to, 0.99),
               p999 = Percentile(all, from, to, 0.999);
  double max = 0;
  for (const Record& r : all) {
    if (r.t >= from && r.t < to) max = std::max(max, r.latency_ms);
  }
  std::printf(
      "%s: check latency in [%.1f, %.1f) s: p50 %.3f ms p99 %.3f ms p99.9 "
      "%.3f ms max %.3f ms (%zu checks)\n",
      what.c_str(), from, to, p50, p99, p999, max, all.size());
  Misses misses;
  Soft(&misses, p99 < kFastP99Ms,
       what + Figure(": p99 check latency %.3f ms, expected under %.0f ms", p99,
                     kFastP99Ms));
  return misses;
}

Misses ClusterLoad::ExpectProbesArrived() {
  const std::vector<RuleProber::Probe> probes = prober_->probes();
  Misses misses;
  int accepted = 0, refused = 0;
  double worst = 0;
  for (const RuleProber::Probe& p : probes) {
    if (p.status != 200) {
      ++refused;
      continue;
    }
    ++accepted;
    EXPECT_GE(p.delay_s, 0)
        << "the change made through controller " << p.controller << " at "
        << p.at << " s never reached every agent";
    worst = std::max(worst, p.delay_s);
    Soft(&misses, p.delay_s < 1.0,
         Figure("a rule change reached every agent after %.2f s (at %.1f s), "
                "expected within 1 s",
                p.delay_s, p.at));
  }
  EXPECT_GT(accepted, 0) << "no rule change was accepted";
  std::printf(
      "rule changes: %d accepted, reaching every agent within %.3f s at "
      "worst; %d not accepted (controller or database away)\n",
      accepted, worst, refused);
  return misses;
}

}  // namespace sluice::testing
