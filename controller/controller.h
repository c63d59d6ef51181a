// Controller: the sluice-controller daemon as an object, so tests can run it
// in-process. It owns the database connection, the rule, config, token and
// audit stores, the catalog, the authenticator, the lease server, the REST
// API (HTTP or HTTPS) and the metrics.
//
// Start() checks the options, binds the HTTP API (and /metrics), and starts
// a background thread that
//   1. applies pending migrations, makes sure an admin token exists, and
//      loads the rules into the catalog, retrying every second (with a log
//      line) while PostgreSQL is unreachable: /healthz answers meanwhile,
//      /readyz and /api/v1 answer 503;
//   2. starts the lease server (agents get the loaded rule set, never an
//      empty stand-in);
//   3. starts the membership heartbeat (controller/cluster/, several
//      controllers on one database: docs/high-availability.md) on a
//      connection and thread of its own; each round also reads the rules'
//      revision, and a change committed through another controller is
//      caught up at once (within a heartbeat, 250 ms);
//   4. every catalog_sync_ms, catches the catalog up with the database
//      (changes by other controllers, changes missed during an outage) and
//      reloads the API tokens.
// A schema newer than the migrations known here, a failing migration, or an
// agent endpoint that cannot be bound is fatal: Wait() returns it.
//
// Thread-safety: Start/Stop/Wait from one thread; RequestStop, ready and
// the accessors from any.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>

#include "common/status.h"
#include "controller/api/admin_api.h"
#include "controller/api/agent_keys_api.h"
#include "controller/api/auth.h"
#include "controller/api/rest_api.h"
#include "controller/api/usage_api.h"
#include "controller/catalog/catalog_sync.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/cluster/cluster_mailbox.h"
#include "controller/cluster/cluster_member.h"
#include "controller/cluster/cluster_view.h"
#include "controller/cluster/membership_store.h"
#include "controller/lease/agent_directory.h"
#include "controller/lease/curve_allowed_keys.h"
#include "controller/lease/lease_server.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/store/agent_key_store.h"
#include "controller/store/audit_log.h"
#include "controller/store/config_store.h"
#include "controller/store/database.h"
#include "controller/store/migrator.h"
#include "controller/store/rule_store.h"
#include "controller/store/token_store.h"
#include "controller/store/usage_store.h"
#include "controller/usage/usage_ingest.h"
#include "platform/http/http_limits.h"
#include "platform/mutex.h"
#include "platform/system_clock.h"

namespace sluice {

// How an operator gives the controller CurveZMQ keys, for the error that
// refuses a plain agent channel off loopback (CheckAgentChannel).
constexpr char kControllerCurveKeysHint[] =
    "--curve-secret-key-file (a keypair from `sluice-controller keygen`)";

struct ControllerOptions {
  std::string db;                       // libpq conninfo; "" = PG*
  std::string http = "127.0.0.1:8080";  // REST API HOST:PORT
  // PEM certificate chain and private key: serve the API over HTTPS. Both
  // or neither ("" = plain HTTP).
  std::string tls_cert;
  std::string tls_key;
  // What the REST API allows its clients: connections, timeouts, sizes
  // (docs/operations.md, "Limits of the REST API").
  HttpLimits http_limits;
  std::string agents = "tcp://127.0.0.1:7070";  // ZeroMQ endpoint to bind
  // The endpoint agents reach this controller at, as their --controller
  // lists it ("" = `agents`, which must then name a host:
  // ResolveAdvertise). Several controllers: docs/high-availability.md.
  std::string advertise;
  // The membership's timings (tests shorten them), and how long a dead
  // controller's row stays in the controllers table.
  ClusterTimings cluster_timings;
  int64_t cluster_forget_ms = 10 * 60 * 1000;
  std::string metrics;  // HOST:PORT; "" = none
  // Allows a non-loopback agents endpoint without CurveZMQ keys.
  bool insecure = false;
  // This controller's CurveZMQ keypair file (platform/curve_keys.h). Set:
  // the agent channel is encrypted and only agents whose public key is in
  // agent_keys get in (any endpoint). "" = plain text (loopback, or
  // insecure).
  std::string curve_secret_key_file;
  std::string migrations_dir;  // "" = DefaultMigrationsDir()
  int64_t lease_ttl_ms = 2000;
  // The learning period after the lease server starts (see
  // LeaseServerOptions::learning_ms); the command line sets it to
  // lease_ttl_ms (controller/controller_flags.h).
  int64_t learning_ms = 0;
  std::string admin_token;  // SLUICE_ADMIN_TOKEN; "" = none
  int64_t db_retry_ms = 1000;
  int64_t catalog_sync_ms = 1000;
  // Usage analytics: how long each kind of row is kept
  // (docs/analytics.md), and how often old rows are pruned.
  UsageRetention usage_retention;
  int64_t usage_prune_ms = 60'000;
  // Where a generated first admin token is printed; null = std::cout.
  std::ostream* token_out = nullptr;
  // Called once, from the background thread, when the controller becomes
  // ready (main tells systemd); may be empty.
  std::function<void()> on_ready;
};

// The endpoint this controller advertises to agents: `advertise` if set,
// else `agents`, except that `agents` binding every interface
// (tcp://*:7070, tcp://0.0.0.0:7070, tcp://[::]:7070) is advertised as
// tcp://HOST_NAME:PORT, this machine's host name. InvalidArgument, saying
// to give --advertise, when `advertise` names no reachable host, when
// `host_name` is empty and would be needed, or when the endpoint is not a
// ZeroMQ tcp://, ipc:// endpoint. Pure.
StatusOr<std::string> ResolveAdvertise(const std::string& advertise,
                                       const std::string& agents,
                                       const std::string& host_name);

// This machine's host name (gethostname), or "" when it has none.
std::string LocalHostName();

class Controller {
 public:
  explicit Controller(ControllerOptions options);
  ~Controller();  // Stop()s
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // See above. Fails (and starts nothing) on bad options, a non-loopback
  // agents endpoint without insecure, unusable migrations, or an HTTP or
  // metrics address that cannot be bound.
  Status Start();

  // Blocks until RequestStop() (returns OK) or a fatal error (returns it).
  Status Wait() EXCLUDES(mu_);
  // Blocks until ready, a fatal error (returned) or `timeout_ms` passes
  // (Unavailable).
  Status WaitUntilReady(int64_t timeout_ms) EXCLUDES(mu_);
  // Makes Wait() return. Thread-safe.
  void RequestStop() EXCLUDES(mu_);
  // Stops everything; idempotent.
  void Stop();

  // Migrations applied, rules loaded, lease server running.
  bool ready() const EXCLUDES(mu_);

  RuleCatalog* catalog() { return &catalog_; }
  // The /api/v1/agent-keys handlers (for AdminApi) and the allowed set.
  AgentKeysApi* agent_keys_api() { return &agent_keys_api_; }
  AllowedAgentKeys* allowed_agent_keys() { return &allowed_agent_keys_; }
  ControllerMetrics* metrics() { return &metrics_; }
  // This controller's member id (unique per process) and the membership
  // state the lease thread last published.
  const std::string& member_id() const { return member_id_; }
  ClusterState cluster_state() const { return cluster_mailbox_.State(); }

 private:
  void Background() EXCLUDES(mu_);
  // What the REST API is built on (Start() builds it once).
  AdminApi::Deps ApiDeps();
  Status InitializeOnce();
  // The lease server's options from ours, with this CurveZMQ secret key.
  LeaseServerOptions LeaseOptions(const std::string& secret_key);
  // The usage writer (the lease server's sink) and the usage API.
  void SetUpUsage(LeaseServerOptions* lease);
  // Starts the membership heartbeat (cluster_member.h).
  void StartMembership();
  // Sleeps up to `ms` (less when the rules moved elsewhere: catch_up_);
  // false when a stop was requested.
  bool SleepUnlessStopping(int64_t ms) EXCLUDES(mu_);
  std::vector<ReadinessCheck> Readiness() EXCLUDES(mu_);
  // /readyz's "cluster" object and GET /api/v1/controllers, as JSON text.
  std::string ClusterJson() const;
  std::string ControllersJson() const;
  // From the membership thread: the rules' revision in the database.
  void OnRulesRevision(int64_t revision) EXCLUDES(mu_);

  const ControllerOptions options_;
  ControllerMetrics metrics_;
  Database db_;
  RuleStore store_;
  ConfigStore config_;
  TokenStore tokens_;
  AuditLog audit_;
  RuleCatalog catalog_;
  CatalogSync sync_;
  Authenticator auth_;
  AgentKeyStore agent_keys_;
  AllowedAgentKeys allowed_agent_keys_;
  AgentKeysApi agent_keys_api_;
  // Usage analytics: a connection of their own, so reports and the admin
  // API do not queue behind each other.
  Database usage_db_;
  UsageStore usage_store_;
  AgentDirectory agent_directory_;
  std::unique_ptr<UsageIngest> usage_ingest_;
  std::unique_ptr<UsageApi> usage_api_;
  bool curve_ = false;  // CurveZMQ on the agent channel
  std::unique_ptr<Migrator> migrator_;
  std::unique_ptr<LeaseServer> lease_server_;
  // Membership: its own connection, thread and mailbox to the lease thread.
  std::string member_id_;
  std::string advertise_;
  Database cluster_db_;
  MembershipStore membership_store_;
  ClusterMailbox cluster_mailbox_;
  std::unique_ptr<ClusterMember> member_;
  SessionRows session_rows_{&db_};  // dashboard sign-ins, shared
  SessionStore sessions_{&SystemClock::Get(), &session_rows_};
  std::unique_ptr<AdminApi> api_;
  std::unique_ptr<RestApi> rest_;
  std::thread background_;

  mutable Mutex mu_;
  CondVar cv_;  // signals any change of the three below
  bool stop_requested_ GUARDED_BY(mu_) = false;
  bool ready_ GUARDED_BY(mu_) = false;
  bool catch_up_ GUARDED_BY(mu_) = false;  // the rules moved elsewhere
  Status fatal_ GUARDED_BY(mu_);
  bool started_ = false;
};

}  // namespace sluice
