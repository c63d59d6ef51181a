// Decision: the answer to one check, in the shape of the RL.CHECK reply
// (docs/design.md, "Agent: RESP2 over a Unix socket"): [allowed, limit,
// remaining, reset_after_ms, retry_after_ms].
#pragma once

#include <cstdint>

namespace sluice {

struct Decision {
  bool allowed = true;
  int64_t limit = -1;          // the reported rule's limit; -1: no rule
  int64_t remaining = -1;      // tokens left in that bucket; -1: no rule
  int64_t reset_after_ms = 0;  // until that bucket is full again
  int64_t retry_after_ms = 0;  // 0 when allowed; -1 if never (cost > burst)

  static Decision NoRule() { return Decision{}; }
};

}  // namespace sluice
