// The pure parts of following several controllers (docs/high-availability.md,
// "the agent's part"): the --controller list, which connection serves
// which member of the controller set, which learned endpoints to connect
// to or drop, and which versions to adopt.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/membership.h"
#include "common/status.h"

namespace sluice {

// "a,b,c" into its endpoints, in order. InvalidArgument (naming the
// element) on an empty element or a repeated endpoint.
StatusOr<std::vector<std::string>> SplitControllerEndpoints(
    std::string_view list);

// What the agent knows about one of its connections.
struct ConnectionInfo {
  std::string endpoint;
  std::string self_id;  // the member id it announced (empty: none yet)
  bool given = false;   // from --controller (never dropped)
};

// For each member of `set`: the connection serving it, or -1. A connection
// serves the member whose id it announced (Controllers.self_id); failing
// that (it announced nothing yet, or an id the set does not hold), the
// member advertising its endpoint (spelled the same).
std::vector<int> MapMembers(const ControllerSet& set,
                            const std::vector<ConnectionInfo>& connections);

struct EndpointPlan {
  std::vector<std::string> connect;  // members no connection serves
  std::vector<int> drop;             // learned connections, descending
};

// Learned connections follow the set: connect to every member no
// connection serves; drop learned connections that serve no member, or
// serve one another connection serves too (a given endpoint spelled
// differently). Given connections stay. Version 0 changes nothing.
EndpointPlan PlanEndpoints(const ControllerSet& set,
                           const std::vector<ConnectionInfo>& connections);

// A controller set replaces the one held only when its version is higher.
inline bool AdoptsControllerSet(int64_t held, int64_t offered) {
  return offered > held;
}

// A rules snapshot replaces the agent's rules when it has none, or when
// the snapshot is not older; an older one only when it is the only
// controller (a controller whose database was reset, as with one
// controller before). With several, a lagging controller never moves the
// agent back.
inline bool AcceptsRulesSnapshot(bool have_rules, int64_t held, int64_t offered,
                                 bool single_controller) {
  return !have_rules || offered >= held || single_controller;
}

// A Heartbeat's rules_version asks for a snapshot when the agent has no
// rules, or is behind it (or, with one controller, differs from it).
inline bool HeartbeatWantsRules(bool have_rules, int64_t held, int64_t offered,
                                bool single_controller) {
  return !have_rules || offered > held ||
         (single_controller && offered != held);
}

}  // namespace sluice
