#include "controller/metrics/controller_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <stdexcept>

#include "platform/endpoint.h"

namespace sluice {

ControllerMetrics::ControllerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("sluice_controller_http_requests_total")
                   .Help("REST API requests by route template and HTTP status")
                   .Register(*registry_);
  rules_ = &prometheus::BuildGauge()
                .Name("sluice_controller_rules")
                .Help("Rules in the committed rule set")
                .Register(*registry_)
                .Add({});
  database_up_ = &prometheus::BuildGauge()
                      .Name("sluice_controller_database_up")
                      .Help(
                          "1 when the last round trip to PostgreSQL "
                          "succeeded, else 0")
                      .Register(*registry_)
                      .Add({});
}

ControllerMetrics::~ControllerMetrics() = default;

Status ControllerMetrics::Serve(const std::string& listen) {
  StatusOr<HostPort> address = ParseHostPort(listen);
  if (!address.ok()) {
    return Status::InvalidArgument("--metrics: " + address.status().message(),
                                   "metrics");
  }
  // civetweb wants IPv6 hosts in brackets.
  std::string bind =
      address->host.find(':') != std::string::npos
          ? "[" + address->host + "]:" + std::to_string(address->port)
          : address->host + ":" + std::to_string(address->port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind);
  } catch (const std::runtime_error& e) {
    // civetweb reports a failed bind as CivetException (a runtime_error).
    return Status::Unavailable("cannot serve metrics on " + listen + ": " +
                               e.what() +
                               "; choose a free address with --metrics");
  }
  exposer_->RegisterCollectable(registry_);
  return Status::Ok();
}

void ControllerMetrics::RecordRequest(std::string_view route, int code) {
  requests_
      ->Add({{"route", std::string(route)}, {"code", std::to_string(code)}})
      .Increment();
}

void ControllerMetrics::SetRules(int64_t count) {
  rules_->Set(static_cast<double>(count));
}

void ControllerMetrics::SetDatabaseUp(bool up) {
  database_up_->Set(up ? 1 : 0);
}

}  // namespace sluice
