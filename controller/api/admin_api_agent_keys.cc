// AdminApi handlers for CurveZMQ agent keys: they forward to AgentKeysApi,
// which owns the key store, the audit rows and the allowed-key set.
#include "controller/api/admin_api.h"
#include "controller/api/agent_keys_api.h"

namespace sluice {
namespace {

HttpResponse NoKeyStore() {
  return AdminApi::Error(503, "unavailable",
                         "agent keys are not available in this controller "
                         "(no key store configured)");
}

}  // namespace

HttpResponse AdminApi::ListAgentKeys(const Call& call) {
  if (deps_.agent_keys == nullptr) return NoKeyStore();
  return deps_.agent_keys->List(call.request);
}

HttpResponse AdminApi::CreateAgentKey(const Call& call) {
  if (deps_.agent_keys == nullptr) return NoKeyStore();
  return deps_.agent_keys->Create(
      call.request, Actor{call.principal.id, call.principal.name});
}

HttpResponse AdminApi::RevokeAgentKey(const Call& call) {
  if (deps_.agent_keys == nullptr) return NoKeyStore();
  return deps_.agent_keys->Revoke(
      call.id, Actor{call.principal.id, call.principal.name});
}

}  // namespace sluice
