// Paced load for end-to-end tests: hiredis clients that send RL.CHECK on a
// schedule and record every reply, and what the tests compute from those
// records (admitted per window, latency percentiles). Times are seconds
// since a run's origin, taken right after each reply, so a slow test loop
// cannot fake a window.
//
// Expectations come in two kinds (see failover_test.cc): hard ones fail at
// once; soft ones (Misses) need the machine to keep up with the schedule,
// and an attempt that misses one is run again (Retried).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

using Steady = std::chrono::steady_clock;

// Soft expectations an attempt missed, each saying what and by how much.
using Misses = std::vector<std::string>;

void Soft(Misses* misses, bool ok, const std::string& what);

// Runs `attempt` (given its number, from 1) until it misses no soft
// expectation, `attempts` times at most; only the last attempt's misses
// fail the test. Hard expectations fail at once (no further attempt).
void Retried(int attempts, const std::function<Misses(int)>& attempt);

// printf of two numbers into a string.
std::string Figure(const char* format, double a, double b);

struct Record {
  double t;           // seconds since the run's origin, at the reply
  double latency_ms;  // of the RL.CHECK round trip
  bool allowed;
  int64_t retry_after_ms;
};

// One client on one agent, sending `argv` at `per_second`, on schedule
// (a client more than 100 ms late skips what it missed). Thread-safe:
// records() and errors() from any thread.
class PacedClient {
 public:
  PacedClient(std::string socket, std::vector<std::string> argv,
              double per_second);
  ~PacedClient() { Stop(); }

  void Start(Steady::time_point origin);
  void Stop();
  std::vector<Record> records();
  int64_t errors() const { return errors_.load(); }

 private:
  void Run();

  const std::string socket_;
  const std::vector<std::string> argv_;
  const double interval_;
  Steady::time_point origin_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> errors_{0};
  std::mutex mu_;
  std::vector<Record> records_;
};

struct Span {
  int64_t checks = 0, allowed = 0;
  double max_latency_ms = 0;
  bool all_retry_1000 = true;  // every refusal says retry in 1000 ms
};

// The records with t in [from, to).
Span In(const std::vector<Record>& records, double from, double to);

// The p-quantile (0..1) of the latencies in [from, to); -1 when none.
double Percentile(std::vector<Record> records, double from, double to,
                  double p);

// Admitted in [from, to) over several clients.
int64_t Admitted(const std::vector<std::vector<Record>>& all, double from,
                 double to);

// The most admitted in any window [t, t + width) with t >= from; *at (if
// given) is where that window starts.
int64_t MaxWindow(const std::vector<std::vector<Record>>& all, double from,
                  double to, double width, double* at = nullptr);

// Seconds since `origin`.
double Since(Steady::time_point origin);

// Sleeps until `t` seconds after `origin`.
void SleepUntil(Steady::time_point origin, double t);

}  // namespace sluice::testing
