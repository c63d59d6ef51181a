// usage_collector_cost: the CPU time of UsageCollector::AddWants per lease
// request item, as the agent's usage analytics pay it (on the lease
// client's thread) with many buckets: batches of 64 items over 100,000
// random clients of one rule, so that almost every item evicts from the
// 256-client summaries. CPU time of the process (CLOCK_PROCESS_CPUTIME_ID),
// so other work on a shared machine changes it little.
//
//   usage_collector_cost [BATCHES]        (default 50000)
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "agent/usage/usage_collector.h"

namespace {

int64_t CpuNanos() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 50000;
  constexpr int kBatch = 64;
  if (batches < 1) {
    std::fprintf(stderr, "usage: usage_collector_cost [BATCHES >= 1]\n");
    return 1;
  }
  std::mt19937 random(1);
  std::uniform_int_distribution<int> client(0, 99999);
  std::vector<std::vector<sluice::LeaseWant>> wants(batches);
  for (std::vector<sluice::LeaseWant>& batch : wants) {
    for (int i = 0; i < kBatch; ++i) {
      sluice::LeaseWant want;
      want.rule_id = 1;
      want.values = {std::to_string(client(random))};
      want.want = 10;
      want.admitted = 1 + client(random) % 5;
      batch.push_back(std::move(want));
    }
  }
  sluice::UsageCollector collector("bench", 1);
  constexpr int64_t kT0 = 1'800'000'000'000;  // a minute's start
  const int64_t start = CpuNanos();
  for (int i = 0; i < batches; ++i) collector.AddWants(wants[i], kT0 + i);
  const int64_t spent = CpuNanos() - start;
  std::printf(
      "AddWants: %.1f ns CPU per item (%d items)\n",
      static_cast<double>(spent) / (static_cast<double>(batches) * kBatch),
      batches * kBatch);
  return 0;
}
