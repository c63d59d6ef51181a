#include "agent/agent.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "agent/lease/controller_plan.h"
#include "platform/endpoint.h"
#include "platform/log.h"

// Compiled in by agent/CMakeLists.txt (the usage reports carry it).
#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view kLog = "agent";
// Buckets visited per sweep: a tenth of the table (the whole table about
// once a second at the default interval), at least this many.
constexpr size_t kMinSweepEntries = 4096;

std::string DefaultAgentId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "agent") + ":" +
         std::to_string(::getpid());
}

// Names this run of the agent in its usage reports: random, 1..2^63-1.
uint64_t DrawIncarnation() {
  std::random_device device;
  const uint64_t high = device();
  const uint64_t value = (high << 32 | device()) >> 1;
  return value == 0 ? 1 : value;
}

// The wall clock, for the minute a usage count is booked to.
int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Agent::Agent(AgentOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      agent_id_(options_.agent_id.empty() ? DefaultAgentId()
                                          : options_.agent_id),
      checker_(options_.max_buckets, options_.timing),
      handler_(&checker_, [this](std::string* out) { AppendInfo(out); }),
      flush_timer_(io_),
      sweep_timer_(io_),
      usage_timer_(io_),
      usage_(agent_id_, DrawIncarnation()),
      signals_(io_) {
  server_ = std::make_unique<Server>(&io_, options_.server, &handler_, clock_);
  server_->set_on_batch([this] { OnBatch(); });
  const FrontDoorContext door_context{&io_, &checker_, clock_,
                                      [this] { OnBatch(); }};
  for (const FrontDoorFactory& make : options_.front_doors) {
    doors_.push_back(make(door_context));
  }

  LeaseClientOptions lease_options;
  lease_options.endpoint = options_.controller;
  lease_options.agent_id = agent_id_;
  lease_options.heartbeat_ms = options_.heartbeat_ms;
  lease_options.reachable_timeout_ms = options_.reachable_timeout_ms;
  lease_options.curve_public_key = options_.curve_public_key;
  lease_options.curve_secret_key = options_.curve_secret_key;
  lease_options.controller_public_key = options_.controller_public_key;
  LeaseClientCallbacks callbacks;
  // The client's thread only posts; the event loop does the work.
  callbacks.on_rules = [this](std::shared_ptr<const RuleIndex> index) {
    asio::post(io_, [this, index = std::move(index)]() mutable {
      OnRules(std::move(index));
    });
  };
  callbacks.on_grant = [this](const LeaseGrant& grant, int64_t sent_at) {
    // The bucket keys are worked out here, off the event loop.
    asio::post(io_, [this, keyed = Checker::KeyGrant(grant), sent_at] {
      OnGrant(keyed, sent_at);
    });
  };
  callbacks.on_controller = [this](bool reachable, int64_t agents) {
    asio::post(io_,
               [this, reachable, agents] { OnController(reachable, agents); });
  };
  callbacks.on_owners = [this](std::shared_ptr<const OwnerMap> owners) {
    asio::post(io_, [this, owners = std::move(owners)]() mutable {
      OnOwners(std::move(owners));
    });
  };
  // The heaviest clients are summarised on the client's thread: with many
  // buckets that is a few hundred ns per lease request item, which the
  // event loop would otherwise take from the checks.
  callbacks.on_submitted = [this](const std::vector<LeaseWant>& wants) {
    usage_.AddWants(wants, WallMillis());
  };
  lease_client_ = std::make_unique<LeaseClient>(std::move(lease_options),
                                                std::move(callbacks), clock_);
}

Agent::~Agent() {
  // No callback may post onto io_ once it is gone.
  if (lease_client_) lease_client_->Stop();
  StopListeners();
}

Status Agent::Start() {
  if (!options_.curve_public_key.empty()) {
    LogInfo(kLog, "CurveZMQ on: this agent's public key is " +
                      options_.curve_public_key +
                      "; the controller admits it once an admin adds it "
                      "(POST /api/v1/agent-keys)");
  } else if (options_.insecure) {
    StatusOr<std::vector<std::string>> endpoints =
        SplitControllerEndpoints(options_.controller);
    for (const std::string& endpoint :
         endpoints.ok() ? *endpoints : std::vector<std::string>{}) {
      if (IsLoopbackZmqEndpoint(endpoint)) continue;
      LogWarn(kLog, "--insecure: the channel to " + endpoint +
                        " is neither encrypted nor authenticated");
    }
  }
  // Until the controller answers, buckets follow their failure mode.
  checker_.SetLeaseContext(LeaseContext{false, 1});
  metrics_.SetControllerReachable(false);
  Status status = server_->Start();
  if (!status.ok()) return status;
  for (const auto& door : doors_) {
    status = door->Start();
    if (!status.ok()) {
      StopListeners();
      return status;
    }
  }
  if (!options_.metrics.empty()) {
    status = metrics_.StartExposer(options_.metrics);
    if (!status.ok()) {
      StopListeners();
      return status;
    }
  }
  status = lease_client_->Start();
  if (!status.ok()) {
    StopListeners();
    return Status::Unavailable("cannot start the lease client for " +
                               options_.controller + ": " + status.message());
  }
  if (options_.handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const error_code& ec, int signo) {
      if (ec) return;
      LogInfo(kLog, "signal " + std::to_string(signo) + " received, stopping");
      DoStop();
    });
  }
  ArmSweep();
  ArmUsage();

  std::string ready =
      "sluice-agent ready: socket=" + (options_.server.socket_path.empty()
                                           ? std::string("-")
                                           : options_.server.socket_path);
  if (!options_.server.tcp.empty()) {
    ready += " tcp=" + options_.server.tcp + " (port " +
             std::to_string(server_->tcp_port()) + ")";
  }
  for (const auto& door : doors_) ready += " " + door->Describe();
  if (!options_.metrics.empty()) {
    ready += " metrics=" + options_.metrics;
  }
  ready += " controller=" + options_.controller + " agent_id=" + agent_id_ +
           " max_buckets=" + std::to_string(checker_.table().max_buckets());
  LogInfo(kLog, ready);
  return Status::Ok();
}

void Agent::Run() { io_.run(); }

void Agent::Stop() {
  asio::post(io_, [this] { DoStop(); });
}

void Agent::DoStop() {
  if (stopped_) return;
  stopped_ = true;
  StopListeners();  // no decision after this
  DrainAndStopLeaseClient();
  flush_timer_.cancel();
  sweep_timer_.cancel();
  usage_timer_.cancel();
  error_code ec;
  signals_.cancel(ec);
  io_.stop();
}

// Every bucket reports what it spent since its last report (the controller
// accounts for it, and the lease client's thread adds it to the usage
// summaries), then the last usage report leaves, and the lease client
// stops once the controller has it: both waits within stop_drain_ms of
// real time (a test's clock may stand still).
void Agent::DrainAndStopLeaseClient() {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.stop_drain_ms);
  std::vector<LeaseWant> reports;
  checker_.TakeFinalReports(clock_->NowNanos(), &reports);
  if (!reports.empty() && lease_client_->reachable()) {
    lease_client_->Submit(std::move(reports));
  }
  lease_client_->Flush(deadline);
  ReportUsage(/*final=*/true);
  lease_client_->Stop(deadline);
}

void Agent::StopListeners() {
  for (const auto& door : doors_) door->Stop();
  server_->Stop();
}

void Agent::OnRules(std::shared_ptr<const RuleIndex> index) {
  if (stopped_) return;
  // Counters are indexed by the old rule set: publish them first.
  metrics_.RecordDecisions(*checker_.rules(), checker_.decision_counts());
  usage_.AddDecisions(*checker_.rules(), checker_.decision_counts(),
                      WallMillis());
  const int64_t before = checker_.rules()->version();
  checker_.SetRules(std::move(index), clock_->NowNanos());
  metrics_.SetBuckets(static_cast<int64_t>(checker_.table().size()));
  LogInfo(kLog, "rules version " + std::to_string(before) + " -> " +
                    std::to_string(checker_.rules()->version()) + " (" +
                    std::to_string(checker_.rules()->size()) +
                    " enabled rules)");
}

void Agent::OnGrant(const Checker::KeyedGrant& grant, int64_t sent_at) {
  if (stopped_) return;
  checker_.ApplyGrant(grant, sent_at, clock_->NowNanos());
}

void Agent::OnController(bool reachable, int64_t agents) {
  if (stopped_) return;
  const LeaseContext before = checker_.lease_context();
  checker_.SetLeaseContext(
      LeaseContext{reachable, std::max<int64_t>(1, agents)});
  metrics_.SetControllerReachable(reachable);
  if (before.controller_reachable != reachable) {
    if (reachable) {
      LogInfo(kLog, "controller " + options_.controller + " reachable (" +
                        std::to_string(agents) + " agents)");
    } else {
      LogWarn(kLog, "controller " + options_.controller +
                        " unreachable: buckets without a valid lease follow "
                        "their rule's failure_mode");
    }
  }
}

void Agent::OnOwners(std::shared_ptr<const OwnerMap> owners) {
  if (stopped_) return;
  int64_t reachable = 0;
  for (int c = 0; c < owners->connection_count(); ++c) {
    if (owners->connection_reachable(c)) ++reachable;
  }
  metrics_.SetControllers(reachable, owners->version());
  checker_.SetOwners(std::move(owners));
}

void Agent::OnBatch() {
  if (stopped_) return;
  const size_t pending = checker_.pending_leases();
  if (pending >= options_.flush_at_pending) {
    // A full batch goes at once: under load the controller gets many
    // modest requests rather than a few huge ones that would take a core
    // away from the clients for milliseconds (the timer, if armed, sends
    // whatever queues up later).
    FlushLeases();
    return;
  }
  if (flush_armed_ || pending == 0) return;
  flush_armed_ = true;
  flush_timer_.expires_after(
      std::chrono::milliseconds(options_.flush_delay_ms));
  flush_timer_.async_wait([this](const error_code& ec) {
    flush_armed_ = false;
    if (!ec && !stopped_) FlushLeases();
  });
}

void Agent::FlushLeases() {
  wants_.clear();
  wants_.reserve(checker_.pending_leases());  // it was moved away: no regrowth
  checker_.TakeLeaseWants(clock_->NowNanos(), &wants_);
  Submit(std::move(wants_));
}

void Agent::Submit(std::vector<LeaseWant> wants) {
  if (wants.empty()) return;
  const auto reports = static_cast<int64_t>(
      std::count_if(wants.begin(), wants.end(),
                    [](const LeaseWant& w) { return w.want <= 0; }));
  metrics_.AddLeaseRequests(static_cast<int64_t>(wants.size()) - reports,
                            reports);
  lease_client_->Submit(std::move(wants));  // summarised for usage there
}

void Agent::ArmUsage() {
  usage_timer_.expires_after(
      std::chrono::milliseconds(options_.usage_report_ms));
  usage_timer_.async_wait([this](const error_code& ec) {
    if (ec || stopped_) return;
    ReportUsage();
    ArmUsage();
  });
}

void Agent::ReportUsage(bool final) {
  // The counters since the last sweep first, so the report is current.
  usage_.AddDecisions(*checker_.rules(), checker_.decision_counts(),
                      WallMillis());
  metrics_.RecordDecisions(*checker_.rules(), checker_.decision_counts());
  checker_.ResetDecisionCounts();
  UsageReport state;
  state.version = SLUICE_VERSION;
  state.rules_version = checker_.rules()->version();
  state.buckets = static_cast<int64_t>(checker_.table().size());
  // Counting leases visits every bucket: every tenth report only.
  if (usage_reports_made_++ % 10 == 0) {
    leases_held_ =
        static_cast<int64_t>(checker_.CountLeased(clock_->NowNanos()));
  }
  state.leases = leases_held_;
  std::optional<UsageReport> report =
      final ? usage_.FinalReport(WallMillis(), state)
            : usage_.Report(WallMillis(), state);
  if (report) lease_client_->SubmitUsage(std::move(*report));
  metrics_.SetUsageReports(lease_client_->usage_reports_dropped(),
                           lease_client_->usage_reports_pending());
}

void Agent::ArmSweep() {
  sweep_timer_.expires_after(
      std::chrono::milliseconds(options_.sweep_interval_ms));
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec || stopped_) return;
    Sweep();
    ArmSweep();
  });
}

void Agent::Sweep() {
  const size_t budget =
      std::max(kMinSweepEntries, checker_.table().size() / 10);
  wants_.clear();
  unsent_.clear();
  checker_.Sweep(clock_->NowNanos(), budget, &wants_, &unsent_);
  Submit(std::move(wants_));
  if (!unsent_.empty()) {
    metrics_.AddUnsentReports(static_cast<int64_t>(unsent_.size()));
    lease_client_->Summarize(std::move(unsent_));  // for the usage summaries
  }
  usage_.AddDecisions(*checker_.rules(), checker_.decision_counts(),
                      WallMillis());
  metrics_.RecordDecisions(*checker_.rules(), checker_.decision_counts());
  checker_.ResetDecisionCounts();
  metrics_.SetBuckets(static_cast<int64_t>(checker_.table().size()));
}

void Agent::AppendInfo(std::string* out) const {
  out->append("agent_id:" + agent_id_ + "\r\n");
  out->append("controller:" + options_.controller + "\r\n");
  out->append("connections:" + std::to_string(server_->connection_count()) +
              "\r\n");
  out->append("connections_accepted:" +
              std::to_string(server_->connections_accepted()) + "\r\n");
}

}  // namespace sluice
