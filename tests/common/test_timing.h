// Lease timing for tests of the lease path itself.
#pragma once

#include "common/local_bucket.h"

namespace sluice {
namespace testing_timing {

// The agent's default timing, except that every bucket used asks for a
// lease (none is decided locally, common/local_bucket.h): for tests whose
// subject is the lease exchange, not which buckets take part in it.
inline LeaseTiming LeaseEveryBucket() {
  LeaseTiming timing;
  timing.decide_locally = false;
  return timing;
}

}  // namespace testing_timing
}  // namespace sluice
