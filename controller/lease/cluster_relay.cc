#include "controller/lease/cluster_relay.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <utility>

#include "common/clock.h"

namespace sluice {
namespace {

prometheus::Gauge* NewGauge(prometheus::Registry* registry, const char* name,
                            const char* help) {
  if (registry == nullptr) return nullptr;
  return &prometheus::BuildGauge()
              .Name(name)
              .Help(help)
              .Register(*registry)
              .Add({});
}

constexpr int64_t kPublishEveryNanos = 100 * kNanosPerMilli;

}  // namespace

ClusterRelay::ClusterRelay(ClusterMailbox* mailbox,
                           prometheus::Registry* registry)
    : mailbox_(mailbox) {
  members_ = NewGauge(registry, "sluice_controller_cluster_members",
                      "Members of the controller set in force (0: none yet)");
  version_ = NewGauge(registry, "sluice_controller_cluster_set_version",
                      "Version of the controller set in force (0: none yet)");
  holding_ = NewGauge(registry, "sluice_controller_holding",
                      "1 while buckets gained in a new controller set are held "
                      "(no leases for them yet)");
  fenced_ = NewGauge(registry, "sluice_controller_fenced",
                     "1 while this controller grants nothing: its membership "
                     "heartbeat has failed for longer than the fence time");
  if (registry != nullptr) {
    changes_ = &prometheus::BuildCounter()
                    .Name("sluice_controller_ownership_changes_total")
                    .Help("Controller sets adopted (each may move buckets)")
                    .Register(*registry)
                    .Add({});
  }
}

bool ClusterRelay::Pump(LeaseLedger* ledger, int64_t now) {
  if (mailbox_ == nullptr) return false;
  ClusterOutcome outcome;
  if (!mailbox_->Take(&outcome)) return false;
  const Adoption adoption = ledger->OnClusterHeartbeat(
      outcome.started, outcome.stored, outcome.at_join, now);
  return adoption.set_changed;
}

void ClusterRelay::Publish(const LeaseLedger& ledger, int64_t now) {
  const ClusterView& view = ledger.cluster();
  const bool fenced = view.fenced(now);
  const bool holding = view.holding(now);
  const bool changed = view.version() != last_.set.version ||
                       fenced != last_.fenced || holding != last_.holding;
  if (!changed && now - last_publish_ < kPublishEveryNanos) return;
  last_publish_ = now;
  ClusterState state;
  state.self_id = view.self_id();
  state.set = view.ownership().set();
  state.fenced = fenced;
  state.holding = holding;
  state.owned_buckets = static_cast<int64_t>(ledger.budget_count());
  state.ownership_changes = ledger.ownership_changes();
  if (members_ != nullptr) {
    members_->Set(static_cast<double>(state.set.members.size()));
    version_->Set(static_cast<double>(state.set.version));
    holding_->Set(holding ? 1 : 0);
    fenced_->Set(fenced ? 1 : 0);
    const int64_t delta = state.ownership_changes - published_changes_;
    if (delta > 0) changes_->Increment(static_cast<double>(delta));
    published_changes_ = state.ownership_changes;
  }
  last_ = state;
  if (mailbox_ != nullptr) mailbox_->Publish(std::move(state));
}

}  // namespace sluice
