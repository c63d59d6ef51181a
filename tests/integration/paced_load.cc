#include "tests/integration/paced_load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "tests/integration/stack.h"

namespace sluice::testing {

using std::chrono::milliseconds;

void Soft(Misses* misses, bool ok, const std::string& what) {
  if (!ok) misses->push_back(what);
}

void Retried(int attempts, const std::function<Misses(int)>& attempt) {
  for (int i = 1; i <= attempts; ++i) {
    const Misses misses = attempt(i);
    if (::testing::Test::HasFailure() || misses.empty()) return;
    for (const std::string& miss : misses) {
      std::printf("attempt %d of %d missed: %s\n", i, attempts, miss.c_str());
      if (i == attempts)
        ADD_FAILURE() << miss << " (in all " << attempts
                      << " attempts; see the log)";
    }
  }
}

std::string Figure(const char* format, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), format, a, b);
  return buf;
}

PacedClient::PacedClient(std::string socket, std::vector<std::string> argv,
                         double per_second)
    : socket_(std::move(socket)),
      argv_(std::move(argv)),
      interval_(1.0 / per_second) {}

void PacedClient::Start(Steady::time_point origin) {
  origin_ = origin;
  thread_ = std::thread([this] { Run(); });
}

void PacedClient::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<Record> PacedClient::records() {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

void PacedClient::Run() {
  RedisClient client(socket_);
  const auto start = Steady::now();
  for (int64_t i = 0; !stop_.load(); ++i) {
    const auto due =
        start +
        std::chrono::duration_cast<Steady::duration>(
            std::chrono::duration<double>(static_cast<double>(i) * interval_));
    const auto now = Steady::now();
    if (now - due > milliseconds(100)) continue;  // skip, do not burst
    std::this_thread::sleep_until(due);
    const auto sent = Steady::now();
    CheckReply reply = client.Check(argv_);
    const auto done = Steady::now();
    if (!reply.error.empty()) {
      ++errors_;
      continue;
    }
    Record r;
    r.t = std::chrono::duration<double>(done - origin_).count();
    r.latency_ms =
        std::chrono::duration<double, std::milli>(done - sent).count();
    r.allowed = reply.allowed == 1;
    r.retry_after_ms = reply.retry_after_ms;
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(r);
  }
}

Span In(const std::vector<Record>& records, double from, double to) {
  Span s;
  for (const Record& r : records) {
    if (r.t < from || r.t >= to) continue;
    ++s.checks;
    if (r.allowed) {
      ++s.allowed;
    } else if (r.retry_after_ms != 1000) {
      s.all_retry_1000 = false;
    }
    s.max_latency_ms = std::max(s.max_latency_ms, r.latency_ms);
  }
  return s;
}

double Percentile(std::vector<Record> records, double from, double to,
                  double p) {
  std::vector<double> latencies;
  for (const Record& r : records) {
    if (r.t >= from && r.t < to) latencies.push_back(r.latency_ms);
  }
  if (latencies.empty()) return -1;
  std::sort(latencies.begin(), latencies.end());
  return latencies[static_cast<size_t>(p * (latencies.size() - 1))];
}

int64_t Admitted(const std::vector<std::vector<Record>>& all, double from,
                 double to) {
  int64_t sum = 0;
  for (const auto& records : all) sum += In(records, from, to).allowed;
  return sum;
}

int64_t MaxWindow(const std::vector<std::vector<Record>>& all, double from,
                  double to, double width, double* at) {
  std::vector<double> times;
  for (const auto& records : all) {
    for (const Record& r : records) {
      if (r.allowed && r.t >= from && r.t < to) times.push_back(r.t);
    }
  }
  std::sort(times.begin(), times.end());
  int64_t best = 0;
  size_t j = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    while (j < times.size() && times[j] < times[i] + width) ++j;
    if (static_cast<int64_t>(j - i) > best) {
      best = static_cast<int64_t>(j - i);
      if (at != nullptr) *at = times[i];
    }
  }
  return best;
}

double Since(Steady::time_point origin) {
  return std::chrono::duration<double>(Steady::now() - origin).count();
}

void SleepUntil(Steady::time_point origin, double t) {
  std::this_thread::sleep_until(origin +
                                std::chrono::duration_cast<Steady::duration>(
                                    std::chrono::duration<double>(t)));
}

}  // namespace sluice::testing
