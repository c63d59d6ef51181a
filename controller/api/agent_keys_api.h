// AgentKeysApi: the /api/v1/agent-keys handlers (the CurveZMQ keys of the
// agents allowed on the agent channel, docs/operations.md), as functions of
// an HttpRequest (controller/api/admin_api.h), for AdminApi's router to call.
// The router authenticates and checks the role (admin for all three);
// these handlers do the rest.
//
//   key     {"id", "name", "public_key", "created_at",
//            "revoked_at" (null while allowed)}
//   GET     /api/v1/agent-keys       200 {"agent_keys": [key, ...]} by id,
//                                    revoked ones included
//   POST    /api/v1/agent-keys       body {"name": "web-7",
//                                    "public_key": "<40 Z85 characters>"}
//                                    201 key, Location: /api/v1/agent-keys/{id}
//                                    422 bad name or key (field named),
//                                    409 name taken or key added before
//   DELETE  /api/v1/agent-keys/{id}  204; 404 unknown or already revoked
//
// A change is audited as `actor` in its own transaction
// (AgentKeyStore::Add/Revoke) and, once committed, applied to
// AllowedAgentKeys at once: a new key can handshake immediately; a revoked
// key's new handshakes are refused and its connected agent gets no answer
// from the lease server's next poll (~20 ms). Other controllers pick the
// change up at their next reload (about a second).
//
// Thread-safe: changes are committed and applied to the allowed set one at
// a time, so the set sees them in commit order.
#pragma once

#include <cstdint>

#include "controller/api/admin_api.h"
#include "controller/lease/curve_allowed_keys.h"
#include "controller/store/agent_key_store.h"
#include "controller/store/audit_log.h"
#include "platform/mutex.h"

namespace sluice {

class AgentKeysApi {
 public:
  // Both must outlive this.
  AgentKeysApi(AgentKeyStore* store, AllowedAgentKeys* allowed)
      : store_(store), allowed_(allowed) {}

  HttpResponse List(const HttpRequest& request);
  HttpResponse Create(const HttpRequest& request, const Actor& actor)
      EXCLUDES(write_mu_);
  HttpResponse Revoke(int64_t id, const Actor& actor) EXCLUDES(write_mu_);

 private:
  AgentKeyStore* const store_;
  AllowedAgentKeys* const allowed_;
  // Held across a commit and its Allow/Revoke, so the allowed set sees
  // changes in commit order; it guards no member.
  Mutex write_mu_;
};

}  // namespace sluice
