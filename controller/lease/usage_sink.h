// UsageSink: where the lease server hands the agents' usage reports
// (common/wire.h, UsageReport), so that its thread never waits on
// PostgreSQL. controller/usage/usage_ingest.h implements it.
//
// The lease thread calls Offer() for each report and, on every tick,
// TakeAcks() to send the acknowledgements of reports stored since (an
// agent re-sends what is not acknowledged, so a report the sink refuses
// or loses is not lost).
//
// Implementations are thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/wire.h"

namespace sluice {

class UsageSink {
 public:
  virtual ~UsageSink() = default;
  // Takes `report` from routing id `peer`; false when it cannot now (its
  // queue is full): the report is dropped unacknowledged. Never blocks.
  virtual bool Offer(const std::string& peer, UsageReport report) = 0;
  // Appends (peer, ack) for every report stored since the last call.
  virtual void TakeAcks(std::vector<std::pair<std::string, UsageAck>>* out) = 0;
};

}  // namespace sluice
