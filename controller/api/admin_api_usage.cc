// AdminApi handlers for usage analytics and the agent list: they forward
// to UsageApi (controller/api/usage_api.h).
#include "controller/api/admin_api.h"
#include "controller/api/usage_api.h"

namespace sluice {
namespace {

HttpResponse NoUsage() {
  return AdminApi::Error(503, "unavailable",
                         "usage analytics are not available in this "
                         "controller (no usage store configured)");
}

}  // namespace

HttpResponse AdminApi::UsageSeries(const Call& call) {
  if (deps_.usage == nullptr) return NoUsage();
  return deps_.usage->Series(call.request);
}

HttpResponse AdminApi::UsageRules(const Call& call) {
  if (deps_.usage == nullptr) return NoUsage();
  return deps_.usage->Rules(call.request);
}

HttpResponse AdminApi::UsageTop(const Call& call) {
  if (deps_.usage == nullptr) return NoUsage();
  return deps_.usage->Top(call.request);
}

HttpResponse AdminApi::ListAgents(const Call& call) {
  if (deps_.usage == nullptr) return NoUsage();
  return deps_.usage->Agents(call.request);
}

}  // namespace sluice
