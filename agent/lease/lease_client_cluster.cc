// The lease client with several controllers (see lease_client_impl.h):
// the controller set, learned connections and the routing they make
// (docs/high-availability.md, "the agent's part"). Runs on the client's
// thread.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/lease/controller_plan.h"
#include "agent/lease/lease_client_impl.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-client";

std::string DescribeSet(const ControllerSet& set) {
  std::string out;
  for (const ControllerMember& member : set.members) {
    if (!out.empty()) out += ", ";
    out += member.id + " at " + member.endpoint;
  }
  return out.empty() ? "no members" : out;
}

}  // namespace

void LeaseClient::Impl::HandleControllers(Connection* c,
                                          const Controllers& message,
                                          int64_t now) {
  Status valid = ValidateControllerSet(message.set);
  if (!valid.ok()) {
    Warn(now, "ignored a controller set from " + c->endpoint + ": " +
                  valid.message());
    return;
  }
  bool changed = false;
  if (c->self_id != message.self_id) {
    c->self_id = message.self_id;
    changed = true;
  }
  if (AdoptsControllerSet(set_.version, message.set.version)) {
    LogInfo(kLog, "controller set version " + std::to_string(set_.version) +
                      " -> " + std::to_string(message.set.version) + " (from " +
                      c->endpoint + "): " + DescribeSet(message.set));
    set_ = message.set;
    owner_->set_version_.store(set_.version);
    changed = true;
  }
  if (changed) {
    follow_pending_ = true;
    RebuildOwners();
  }
}

void LeaseClient::Impl::FollowSet(int64_t now) {
  if (!follow_pending_) return;
  follow_pending_ = false;
  std::vector<ConnectionInfo> infos;
  for (const auto& c : io_->connections) {
    infos.push_back(ConnectionInfo{c->endpoint, c->self_id, c->given});
  }
  const EndpointPlan plan = PlanEndpoints(set_, infos);
  if (plan.connect.empty() && plan.drop.empty()) return;
  std::vector<std::unique_ptr<Connection>>& connections = io_->connections;
  for (int index : plan.drop) {  // descending: earlier indices stay valid
    LogInfo(kLog, "disconnected from the controller at " +
                      connections[static_cast<size_t>(index)]->endpoint +
                      ": it is not a member of controller set " +
                      std::to_string(set_.version) +
                      " (or another "
                      "connection serves it)");
    connections.erase(connections.begin() + index);
  }
  for (const std::string& endpoint : plan.connect) {
    Status status = Connect(io_, endpoint, /*given=*/false);
    if (!status.ok()) {
      Warn(now, "cannot follow controller set " + std::to_string(set_.version) +
                    ": " + status.message());
      continue;
    }
    LogInfo(kLog, "connecting to the controller at " + endpoint +
                      ", learned from controller set " +
                      std::to_string(set_.version));
    SendHello(connections.back().get());
  }
  RebuildOwners();
}

void LeaseClient::Impl::RebuildOwners() {
  std::vector<ConnectionInfo> infos;
  std::vector<bool> reachable;
  int64_t count = 0;
  for (const auto& c : io_->connections) {
    infos.push_back(ConnectionInfo{c->endpoint, c->self_id, c->given});
    reachable.push_back(c->reachable);
    if (c->reachable) ++count;
  }
  std::vector<int> serving = MapMembers(set_, infos);
  owners_ = std::make_shared<const OwnerMap>(
      Ownership(set_), std::move(serving), std::move(reachable));
  owner_->controllers_reachable_.store(count);
  owner_->reachable_.store(count > 0);
  if (callbacks_.on_owners) callbacks_.on_owners(owners_);
  NotifyController();
}

}  // namespace sluice
