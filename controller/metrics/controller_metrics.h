// ControllerMetrics: the controller's Prometheus registry and its own
// metrics. Other parts (the LeaseServer) register theirs in registry().
//
//   sluice_controller_http_requests_total{route, code}  counter
//       route is the route template ("/api/v1/rules/{id}"), never a raw
//       path, so the label set stays small; "other" for unknown paths.
//   sluice_controller_rules                              gauge
//       rules in the committed rule set (the RuleCatalog).
//   sluice_controller_database_up                        gauge
//       1 when the controller's last round trip to PostgreSQL (start-up,
//       or the catalog sync every second) succeeded, else 0; 0 until the
//       first one succeeds.
//
// Serve() starts a prometheus-cpp Exposer on HOST:PORT (/metrics). Note an
// Exposer that has served takes about 2 s to destroy (civetweb shutdown).
//
// Thread-safe, except Serve() which is called once, before use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace sluice {

class ControllerMetrics {
 public:
  ControllerMetrics();
  ~ControllerMetrics();
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  // Serves the registry on `listen` (HOST:PORT). Unavailable when the
  // address cannot be bound.
  Status Serve(const std::string& listen);

  prometheus::Registry* registry() { return registry_.get(); }

  void RecordRequest(std::string_view route, int code);
  void SetRules(int64_t count);
  void SetDatabaseUp(bool up);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Gauge* rules_;
  prometheus::Gauge* database_up_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
