#include "controller/controller.h"

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "platform/curve_keys.h"
#include "platform/endpoint.h"
#include "platform/log.h"
#include "platform/system_clock.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice {

Controller::Controller(ControllerOptions options)
    : options_(std::move(options)),
      db_(options_.db),
      store_(&db_),
      config_(&db_),
      tokens_(&db_),
      audit_(&db_),
      sync_(&store_, &catalog_,
            [this](size_t rules) {
              metrics_.SetRules(static_cast<int64_t>(rules));
            }),
      auth_(&tokens_),
      agent_keys_(&db_),
      agent_keys_api_(&agent_keys_, &allowed_agent_keys_),
      usage_db_(options_.db),
      usage_store_(&usage_db_),
      cluster_db_(options_.db),
      membership_store_(&cluster_db_) {}

Controller::~Controller() { Stop(); }

namespace {

// Replaces the allowed set with the database's, keeping local changes made
// meanwhile (AllowedAgentKeys). On failure the set is left as it was.
Status ReloadAllowedKeys(AgentKeyStore* store, AllowedAgentKeys* allowed) {
  const uint64_t begin = allowed->BeginReload();
  StatusOr<std::vector<AgentKey>> keys = store->ListAllowed();
  if (!keys.ok()) return keys.status();
  std::vector<AllowedAgentKey> entries;
  entries.reserve(keys->size());
  for (const AgentKey& key : *keys) {
    entries.push_back(AllowedAgentKey{key.id, key.name, key.public_key});
  }
  allowed->FinishReload(begin, entries);
  return Status::Ok();
}

bool IsWildcardHost(std::string_view host) {
  return host == "*" || host == "0.0.0.0" || host == "[::]" || host == "::" ||
         host == "[*]";
}

}  // namespace

StatusOr<std::string> ResolveAdvertise(const std::string& advertise,
                                       const std::string& agents,
                                       const std::string& host_name) {
  const std::string& endpoint = advertise.empty() ? agents : advertise;
  const char* flag = advertise.empty() ? "--agents" : "--advertise";
  if (endpoint.rfind("ipc://", 0) == 0) return endpoint;
  if (endpoint.rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument(
        std::string(flag) + " '" + endpoint +
            "' is not a tcp:// or ipc:// ZeroMQ endpoint; give --advertise "
            "tcp://HOST:PORT, the endpoint agents reach this controller at",
        "advertise");
  }
  const std::string rest = endpoint.substr(6);
  const size_t colon = rest.rfind(':');
  const std::string host = rest.substr(0, colon);
  if (colon == std::string::npos || host.empty() || IsWildcardHost(host)) {
    if (advertise.empty() && colon != std::string::npos && !host_name.empty()) {
      return "tcp://" + host_name + rest.substr(colon);
    }
    if (advertise.empty()) {
      return Status::InvalidArgument(
          "--agents " + agents +
              " binds every interface and this machine has no host name to "
              "advertise instead; give --advertise tcp://HOST:PORT (SLUICE_"
              "ADVERTISE), spelled as the agents' --controller lists it",
          "advertise");
    }
    return Status::InvalidArgument(
        "--advertise " + advertise +
            " names no host agents can reach; expected tcp://HOST:PORT, e.g. "
            "tcp://ctl-1.example.net:7070",
        "advertise");
  }
  return endpoint;
}

std::string LocalHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

AdminApi::Deps Controller::ApiDeps() {
  AdminApi::Deps deps;
  deps.usage = usage_api_.get();
  deps.store = &store_;
  deps.config = &config_;
  deps.tokens = &tokens_;
  deps.agent_keys = &agent_keys_api_;
  deps.audit = &audit_;
  deps.catalog = &sync_;
  deps.memory = &catalog_;
  deps.auth = &auth_;
  deps.metrics = &metrics_;
  deps.readiness = [this] { return Readiness(); };
  deps.cluster = [this] { return ClusterJson(); };
  deps.controllers = [this] { return ControllersJson(); };
  deps.sessions = &sessions_;
  deps.https = !options_.tls_cert.empty();
  return deps;
}

Status Controller::Start() {
  if (started_) return Status::FailedPrecondition("the controller is started");
  CurveKeyPair curve_keys;
  if (!options_.curve_secret_key_file.empty()) {
    StatusOr<CurveKeyPair> keys =
        ReadCurveKeyFile(options_.curve_secret_key_file);
    if (!keys.ok()) return keys.status();
    curve_keys = std::move(keys).value();
    curve_ = true;
    LogInfo("controller",
            "CurveZMQ on the agent channel: agents need "
            "--controller-public-key " +
                curve_keys.public_key +
                ", and their own public key allowed (POST /api/v1/agent-keys)");
  } else {
    Status channel =
        CheckAgentChannel("--agents", options_.agents, /*have_keys=*/false,
                          options_.insecure, kControllerCurveKeysHint);
    if (!channel.ok()) return channel;
    if (!IsLoopbackZmqEndpoint(options_.agents)) {
      LogWarn("controller", "--insecure: the agent channel on " +
                                options_.agents +
                                " is neither encrypted nor authenticated");
    }
  }
  StatusOr<std::string> advertise =
      ResolveAdvertise(options_.advertise, options_.agents, LocalHostName());
  if (!advertise.ok()) return advertise.status();
  advertise_ = std::move(advertise).value();
  member_id_ = MakeControllerId();
  if (options_.lease_ttl_ms <= 0) {
    return Status::InvalidArgument(
        "--lease-ttl-ms must be a positive number of milliseconds, e.g. 2000",
        "lease-ttl-ms");
  }
  std::string dir = options_.migrations_dir.empty() ? DefaultMigrationsDir()
                                                    : options_.migrations_dir;
  if (dir.empty()) {
    return Status::InvalidArgument(
        "cannot find the migrations (looked in <bin>/../share/sluice/"
        "migrations and the source tree); give --migrations DIR",
        "migrations");
  }
  StatusOr<Migrator> migrator = Migrator::FromDirectory(dir);
  if (!migrator.ok()) return migrator.status();
  migrator_ = std::make_unique<Migrator>(std::move(migrator).value());

  if (!options_.metrics.empty()) {
    Status serving = metrics_.Serve(options_.metrics);
    if (!serving.ok()) return serving;
  }

  LeaseServerOptions lease = LeaseOptions(curve_keys.secret_key);
  SetUpUsage(&lease);
  lease_server_ = std::make_unique<LeaseServer>(
      lease, &catalog_, &SystemClock::Get(), metrics_.registry());

  api_ = std::make_unique<AdminApi>(ApiDeps());
  rest_ =
      std::make_unique<RestApi>(options_.http, api_.get(), options_.tls_cert,
                                options_.tls_key, options_.http_limits);
  Status http = rest_->Start();
  if (!http.ok()) {
    rest_.reset();
    return http;
  }
  started_ = true;
  background_ = std::thread([this] { Background(); });
  return Status::Ok();
}

LeaseServerOptions Controller::LeaseOptions(const std::string& secret_key) {
  LeaseServerOptions lease;
  lease.endpoint = options_.agents;
  lease.lease_ttl_ms = options_.lease_ttl_ms;
  lease.learning_ms = options_.learning_ms;
  lease.curve_secret_key = secret_key;
  lease.allowed_agent_keys = &allowed_agent_keys_;
  lease.cluster = &cluster_mailbox_;
  lease.member_id = member_id_;
  lease.member_endpoint = advertise_;
  lease.cluster_timings = options_.cluster_timings;
  return lease;
}

void Controller::SetUpUsage(LeaseServerOptions* lease) {
  UsageIngestOptions ingest;
  ingest.retention = options_.usage_retention;
  ingest.prune_every_ms = options_.usage_prune_ms;
  ingest.retry_ms = options_.db_retry_ms;
  usage_ingest_ = std::make_unique<UsageIngest>(ingest, &usage_store_,
                                                &catalog_, metrics_.registry());
  lease->usage_sink = usage_ingest_.get();
  lease->agent_directory = &agent_directory_;

  UsageApi::Deps usage;
  usage.store = &usage_store_;
  usage.rules = &catalog_;
  usage.agents = &agent_directory_;
  usage.retention = options_.usage_retention;
  usage.now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  usage_api_ = std::make_unique<UsageApi>(std::move(usage));
}

Status Controller::InitializeOnce() {
  StatusOr<int> applied = migrator_->Apply(&db_);
  if (!applied.ok()) return applied.status();
  std::ostream& out =
      options_.token_out != nullptr ? *options_.token_out : std::cout;
  Status tokens = auth_.Bootstrap(options_.admin_token, out);
  if (!tokens.ok()) return tokens;
  if (curve_) {
    // Before the lease server starts: until then every agent is refused.
    Status keys = ReloadAllowedKeys(&agent_keys_, &allowed_agent_keys_);
    if (!keys.ok()) return keys;
    if (allowed_agent_keys_.Get()->empty()) {
      LogWarn("controller",
              "CurveZMQ is on and no agent key is allowed yet: every agent "
              "is refused until an admin adds one (POST /api/v1/agent-keys "
              "with the public= line of `sluice-agent keygen`)");
    }
  }
  return sync_.Reload();
}

void Controller::Background() {
  // Named for top -H and perf (tests/bench/idle_cost.sh).
  pthread_setname_np(pthread_self(), "sluice-catalog");
  // 1. Migrations, tokens, rules: retry while PostgreSQL is unreachable.
  for (;;) {
    Status init = InitializeOnce();
    metrics_.SetDatabaseUp(init.code() != Status::Code::kUnavailable);
    if (init.ok()) break;
    if (init.code() != Status::Code::kUnavailable) {
      LogError("controller", "cannot start: " + init.message());
      MutexLock lock(&mu_);
      fatal_ = init;
      cv_.NotifyAll();
      return;
    }
    LogWarn("controller", init.message() + "; retrying in " +
                              std::to_string(options_.db_retry_ms) + " ms");
    if (!SleepUnlessStopping(options_.db_retry_ms)) return;
  }
  LogInfo("controller",
          "schema at migration " +
              FormatMigrationVersion(migrator_->latest_version()) + ", " +
              std::to_string(catalog_.Get().rules.size()) +
              " rules at revision " + std::to_string(catalog_.version()));

  // 2. The agent channel, now that there is a rule set to send, and the
  // writer of its usage reports.
  usage_ingest_->Start();
  Status lease = lease_server_->Start();
  if (!lease.ok()) {
    LogError("controller", "cannot start the lease server: " + lease.message());
    MutexLock lock(&mu_);
    fatal_ = lease;
    cv_.NotifyAll();
    return;
  }
  // 3. Membership, now that the endpoint is bound (the first round
  // replaces earlier incarnations on the same endpoint).
  StartMembership();
  api_->SetServing(true);
  {
    MutexLock lock(&mu_);
    ready_ = true;
    cv_.NotifyAll();
  }
  if (options_.on_ready) options_.on_ready();
  LogInfo("controller",
          "sluice-controller ready: http=" + options_.http +
              " agents=" + options_.agents +
              (options_.metrics.empty() ? std::string()
                                        : " metrics=" + options_.metrics) +
              (options_.tls_cert.empty() ? "" : " tls=on"));

  // 4. Keep the catalog and the tokens in step with the database.
  bool database_up = true;
  while (SleepUnlessStopping(options_.catalog_sync_ms)) {
    Status synced = sync_.CatchUp();
    if (synced.ok()) synced = auth_.Reload();
    // Agent keys changed through other controllers (ours apply at once).
    if (synced.ok() && curve_) {
      synced = ReloadAllowedKeys(&agent_keys_, &allowed_agent_keys_);
    }
    if (!synced.ok() && database_up) {
      LogWarn("controller",
              synced.message() +
                  "; agents keep the rules they have and leasing goes on "
                  "from memory, API reads of the rules come from memory and "
                  "writes get 503 until PostgreSQL is back");
    } else if (synced.ok() && !database_up) {
      LogInfo("controller",
              "PostgreSQL is reachable again; rules at "
              "revision " +
                  std::to_string(catalog_.version()));
    }
    database_up = synced.ok();
    metrics_.SetDatabaseUp(database_up);
  }
}

void Controller::StartMembership() {
  ClusterMemberOptions member;
  member.self =
      MemberInfo{member_id_, advertise_, options_.http, SLUICE_VERSION};
  member.timings = options_.cluster_timings;
  member.forget_ms = options_.cluster_forget_ms;
  member.on_rules_revision = [this](int64_t revision) {
    OnRulesRevision(revision);
  };
  member_ =
      std::make_unique<ClusterMember>(std::move(member), &membership_store_,
                                      &cluster_mailbox_, &SystemClock::Get());
  member_->Start();
  LogInfo("controller", "member " + member_id_ + " at " + advertise_);
}

bool Controller::SleepUnlessStopping(int64_t ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  MutexLock lock(&mu_);
  while (!stop_requested_ && !catch_up_ && cv_.WaitUntil(&mu_, deadline)) {
  }
  catch_up_ = false;
  return !stop_requested_;
}

std::vector<ReadinessCheck> Controller::Readiness() {
  std::vector<ReadinessCheck> checks;
  checks.push_back({"database", db_.Ping()});
  // Ready only once start-up is over, not as soon as the lease server
  // runs: the API answers 503 until then.
  bool is_ready;
  Status fatal;
  {
    MutexLock lock(&mu_);
    is_ready = ready_;
    fatal = fatal_;
  }
  Status lease = Status::Ok();
  if (!fatal.ok()) {
    lease = Status::Unavailable("not running: " + fatal.message());
  } else if (!is_ready) {
    lease = Status::Unavailable(
        "not started yet: it starts once migrations are applied and the "
        "rules are loaded from PostgreSQL");
  } else if (lease_server_ == nullptr || !lease_server_->running()) {
    lease = Status::Unavailable("not running on " + options_.agents);
  }
  checks.push_back({"lease_server", lease});
  const ClusterState cluster = cluster_mailbox_.State();
  if (cluster.fenced) {
    checks.push_back(
        {"cluster",
         Status::Unavailable(
             "fenced: the membership heartbeat has failed for more "
             "than " +
             std::to_string(options_.cluster_timings.fence_ms) +
             " ms, so this controller grants no leases (other "
             "controllers take its buckets after " +
             std::to_string(options_.cluster_timings.dead_ms) + " ms)")});
  }
  return checks;
}

void Controller::OnRulesRevision(int64_t revision) {
  if (revision <= catalog_.version()) return;
  MutexLock lock(&mu_);
  catch_up_ = true;
  cv_.NotifyAll();
}

std::string Controller::ClusterJson() const {
  const ClusterState state = cluster_mailbox_.State();
  nlohmann::json members = nlohmann::json::array();
  for (const ControllerMember& m : state.set.members) {
    members.push_back({{"id", m.id}, {"endpoint", m.endpoint}});
  }
  return nlohmann::json{{"id", member_id_},
                        {"advertise", advertise_},
                        {"set_version", state.set.version},
                        {"members", members},
                        {"fenced", state.fenced},
                        {"holding", state.holding},
                        {"buckets", state.owned_buckets}}
      .dump();
}

std::string Controller::ControllersJson() const {
  int64_t as_of = 0;
  std::vector<MemberRow> rows =
      member_ != nullptr ? member_->Rows(&as_of) : std::vector<MemberRow>();
  // Ages as of now: the rows were read at as_of.
  const int64_t since_ms =
      as_of == 0 ? 0 : (SystemClock::Get().NowNanos() - as_of) / 1'000'000;
  const ClusterState state = cluster_mailbox_.State();
  nlohmann::json list = nlohmann::json::array();
  for (const MemberRow& row : rows) {
    bool in_set = false;
    for (const ControllerMember& m : state.set.members) {
      in_set = in_set || m.id == row.id;
    }
    list.push_back({{"id", row.id},
                    {"endpoint", row.endpoint},
                    {"http", row.http},
                    {"version", row.version},
                    {"started_at", row.started_at},
                    {"heartbeat_age_ms", row.heartbeat_age_ms + since_ms},
                    {"in_set", in_set},
                    {"self", row.id == member_id_}});
  }
  return nlohmann::json{{"self", member_id_},
                        {"set_version", state.set.version},
                        {"controllers", list}}
      .dump();
}

Status Controller::Wait() {
  MutexLock lock(&mu_);
  while (!stop_requested_ && fatal_.ok()) cv_.Wait(&mu_);
  return fatal_;
}

Status Controller::WaitUntilReady(int64_t timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  MutexLock lock(&mu_);
  while (!ready_ && fatal_.ok() && !stop_requested_ &&
         cv_.WaitUntil(&mu_, deadline)) {
  }
  if (!fatal_.ok()) return fatal_;
  if (ready_) return Status::Ok();
  return Status::Unavailable("the controller was not ready within " +
                             std::to_string(timeout_ms) +
                             " ms; see its log for what it waits for");
}

void Controller::RequestStop() {
  MutexLock lock(&mu_);
  stop_requested_ = true;
  cv_.NotifyAll();
}

bool Controller::ready() const {
  MutexLock lock(&mu_);
  return ready_;
}

void Controller::Stop() {
  RequestStop();
  // No new requests first, then the thread that may be touching the
  // database, then the agents' channel.
  if (rest_ != nullptr) rest_->Stop();
  if (background_.joinable()) background_.join();
  if (lease_server_ != nullptr) lease_server_->Stop();
  // After the lease server: nothing is granted once we leave the set.
  if (member_ != nullptr) member_->Stop();
  if (usage_ingest_ != nullptr) usage_ingest_->Stop();
}

}  // namespace sluice
