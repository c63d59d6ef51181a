#include "controller/lease/log_names.h"

#include <algorithm>

namespace sluice {

// A routing id for logs: as is when printable (LeaseClient's are
// "agent-id/random"), else in hex (ZeroMQ's generated ones).
std::string PeerName(std::string_view id) {
  const bool printable = std::all_of(
      id.begin(), id.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable && !id.empty()) return std::string(id);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : id) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

const char* WireTypeName(const WireMessage& message) {
  struct Namer {
    const char* operator()(const Hello&) { return "Hello"; }
    const char* operator()(const SnapshotRequest&) { return "SnapshotRequest"; }
    const char* operator()(const Heartbeat&) { return "Heartbeat"; }
    const char* operator()(const RulesSnapshot&) { return "RulesSnapshot"; }
    const char* operator()(const RulesDelta&) { return "RulesDelta"; }
    const char* operator()(const LeaseRequest&) { return "LeaseRequest"; }
    const char* operator()(const LeaseGrant&) { return "LeaseGrant"; }
    const char* operator()(const ErrorMessage&) { return "ErrorMessage"; }
    const char* operator()(const UsageReport&) { return "UsageReport"; }
    const char* operator()(const UsageAck&) { return "UsageAck"; }
    const char* operator()(const Controllers&) { return "Controllers"; }
  };
  return std::visit(Namer{}, message);
}

}  // namespace sluice
