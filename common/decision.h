// Decision: the answer to one check, in the shape of the RL.CHECK reply
// (docs/api.md): [allowed, limit, remaining, reset_after_ms, retry_after_ms],
// and which rule it reports (not part of that reply: the gRPC and HTTP
// front doors describe the rule's period and name from it).
#pragma once

#include <cstdint>

namespace sluice {

struct Decision {
  bool allowed = true;
  int64_t limit = -1;          // the reported rule's limit; -1: no rule
  int64_t remaining = -1;      // tokens left in that bucket; -1: no rule
  int64_t reset_after_ms = 0;  // until that bucket is full again
  int64_t retry_after_ms = 0;  // 0 when allowed; -1 if never (cost > burst)
  int64_t rule_id = 0;         // the reported rule's id; 0: no rule

  static Decision NoRule() { return Decision{}; }
};

}  // namespace sluice
