#include "agent/lease/controller_plan.h"

#include <algorithm>
#include <set>

namespace sluice {
namespace {

bool HasMember(const ControllerSet& set, const std::string& id) {
  return std::any_of(
      set.members.begin(), set.members.end(),
      [&](const ControllerMember& member) { return member.id == id; });
}

}  // namespace

StatusOr<std::vector<std::string>> SplitControllerEndpoints(
    std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string_view item = list.substr(
        start, comma == std::string_view::npos ? comma : comma - start);
    const std::string position = std::to_string(out.size() + 1);
    if (item.empty()) {
      return Status::InvalidArgument(
          "--controller element " + position +
              " is empty; expected ZeroMQ endpoints separated by commas, "
              "e.g. tcp://a:7070,tcp://b:7070",
          "controller");
    }
    if (std::find(out.begin(), out.end(), item) != out.end()) {
      return Status::InvalidArgument("--controller names '" +
                                         std::string(item) +
                                         "' twice; give each controller once",
                                     "controller");
    }
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<int> MapMembers(const ControllerSet& set,
                            const std::vector<ConnectionInfo>& connections) {
  std::vector<int> out(set.members.size(), -1);
  for (size_t m = 0; m < set.members.size(); ++m) {
    const ControllerMember& member = set.members[m];
    for (size_t c = 0; c < connections.size() && out[m] < 0; ++c) {
      if (connections[c].self_id == member.id) out[m] = static_cast<int>(c);
    }
    for (size_t c = 0; c < connections.size() && out[m] < 0; ++c) {
      // A connection that announced another member of the set serves
      // that one; one that announced an id the set does not hold (a
      // controller restarted as a new member) serves by its endpoint until
      // it announces again.
      const std::string& announced = connections[c].self_id;
      if (connections[c].endpoint == member.endpoint &&
          (announced.empty() || !HasMember(set, announced))) {
        out[m] = static_cast<int>(c);
      }
    }
  }
  return out;
}

EndpointPlan PlanEndpoints(const ControllerSet& set,
                           const std::vector<ConnectionInfo>& connections) {
  EndpointPlan plan;
  if (set.version == 0) return plan;
  const std::vector<int> serving = MapMembers(set, connections);
  std::set<int> used(serving.begin(), serving.end());
  for (size_t m = 0; m < set.members.size(); ++m) {
    if (serving[m] >= 0) continue;
    const std::string& endpoint = set.members[m].endpoint;
    const bool connected = std::any_of(
        connections.begin(), connections.end(),
        [&](const ConnectionInfo& c) { return c.endpoint == endpoint; });
    // A connection to that endpoint announced another id: the member is a
    // new incarnation there; it announces itself after its next snapshot.
    if (!connected) plan.connect.push_back(endpoint);
  }
  for (int c = static_cast<int>(connections.size()) - 1; c >= 0; --c) {
    if (connections[c].given || used.count(c) > 0) continue;
    // A learned connection that announced nothing yet is kept while its
    // endpoint is still a member's.
    const bool member_endpoint = std::any_of(
        set.members.begin(), set.members.end(), [&](const ControllerMember& m) {
          return m.endpoint == connections[c].endpoint;
        });
    if (connections[c].self_id.empty() && member_endpoint) continue;
    plan.drop.push_back(c);
  }
  return plan;
}

}  // namespace sluice
