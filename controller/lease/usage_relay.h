// UsageRelay: the lease thread's part in usage analytics, kept out of the
// socket loop: reports to the usage sink, acknowledgements back out, and
// the agent directory published from what the agents' messages say
// (agent_tracker.h). Reads the wall clock (the directory's last_seen).
//
// Thread-compatible: the lease thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/wire.h"
#include "controller/lease/agent_directory.h"
#include "controller/lease/agent_tracker.h"
#include "controller/lease/usage_sink.h"

namespace sluice {

class UsageRelay {
 public:
  // Either may be null (that part is off).
  UsageRelay(UsageSink* sink, AgentDirectory* directory)
      : sink_(sink), directory_(directory) {}

  bool has_sink() const { return sink_ != nullptr; }
  // Records what the report says of its agent, then offers it to the sink;
  // false when the sink is full (the report is dropped, unacknowledged).
  bool Offer(const std::string& peer, UsageReport* report);
  // Sends the acknowledgements ready (through `send`) and publishes the
  // directory when due.
  void Pump(
      const std::function<void(const std::string&, const UsageAck&)>& send);
  // A message from a known agent (`agent_id` from its Hello, or "").
  void Track(const std::string& peer, const std::string& agent_id,
             const WireMessage& message);
  void Forgotten(const std::string& peer);

 private:
  UsageSink* const sink_;
  AgentDirectory* const directory_;
  AgentTracker tracker_;
  int64_t published_ms_ = 0;
  std::vector<std::pair<std::string, UsageAck>> acks_;  // reused
};

}  // namespace sluice
