// AgentKeyStore: the CurveZMQ public keys of the agents allowed on the agent
// channel, in agent_keys (migrations/0010), managed by admins through
// /api/v1/agent-keys (controller/api/agent_keys_api.h).
//
// A key is allowed from Add() until Revoke(). A revoked row stays (revoked_at
// set); its public key can never be added again, so a leaked key stays out.
// Names are 1..128 of [A-Za-z0-9_.:/-], unique among allowed keys.
//
// Add() and Revoke() write an audit row (target kind "agent_key", actions
// "agent_key.create" / "agent_key.revoke") in the same transaction as the
// change. AddInTx() and RevokeInTx() do the change alone inside a caller's
// transaction, for a caller that audits (or does more) itself and commits.
//
// The lease server does not read this table: AllowedAgentKeys
// (controller/lease/curve_allowed_keys.h) holds the allowed set in memory; the
// caller of a change tells it right after the commit.
//
// Thread-safe (through the Database; the *InTx functions use only the
// transaction given).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/store/audit_log.h"
#include "controller/store/database.h"

namespace sluice {

struct AgentKey {
  int64_t id = 0;
  std::string name;
  std::string public_key;  // Z85, 40 characters
  std::string created_at;  // RFC 3339 UTC, microseconds
  std::string revoked_at;  // RFC 3339 UTC; empty while allowed
};

// {"id", "name", "public_key", "created_at", "revoked_at" (null while
// allowed)}: the API's and the audit log's form.
nlohmann::json AgentKeyToJson(const AgentKey& key);

// 1..128 of [A-Za-z0-9_.:/-] (InvalidArgument, field "name").
Status ValidateAgentKeyName(const std::string& name);
// 40 Z85 characters decoding to 32 bytes (InvalidArgument, field
// "public_key").
Status ValidateAgentPublicKey(const std::string& public_key);

class AgentKeyStore {
 public:
  // `db` must outlive this.
  explicit AgentKeyStore(Database* db) : db_(db) {}

  // Every key, revoked ones included, by id.
  StatusOr<std::vector<AgentKey>> List();
  // The keys not revoked, by id.
  StatusOr<std::vector<AgentKey>> ListAllowed();

  // Validates, inserts, audits as `actor`, commits. InvalidArgument (field
  // named) for a bad name or key; AlreadyExists for a public key ever added
  // before (field "public_key") or a name an allowed key has (field "name").
  StatusOr<AgentKey> Add(const std::string& name, const std::string& public_key,
                         const Actor& actor);
  // Sets revoked_at, audits as `actor`, commits. NotFound for an unknown or
  // already revoked id. Returns the key as revoked.
  StatusOr<AgentKey> Revoke(int64_t id, const Actor& actor);

  // Add() without the audit row and the commit.
  static StatusOr<AgentKey> AddInTx(pqxx::work& tx, const std::string& name,
                                    const std::string& public_key);
  struct Revoked {
    AgentKey before;  // as it was (revoked_at empty)
    AgentKey after;   // revoked
  };
  // Revoke() without the audit row and the commit.
  static StatusOr<Revoked> RevokeInTx(pqxx::work& tx, int64_t id);

  // The audit record of a change: `before` null for an add.
  static AuditRecord MakeAuditRecord(const char* action, const AgentKey* before,
                                     const AgentKey* after);

 private:
  Database* const db_;
};

}  // namespace sluice
