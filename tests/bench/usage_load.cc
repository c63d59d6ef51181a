// usage_load: drives usage reports into a real sluice-controller over the
// agent channel (common/wire.h), as several agents would, for
// tests/bench/usage_ingest.sh. Each simulated agent says Hello, then once a
// second sends one UsageReport holding, per rule, a count row and one
// summary of `entries` clients per ranking (refused and allowed) for the
// last ended minute: `agents * rules * 2 * entries` reported buckets a
// second. It counts the UsageAcks (a report is acknowledged only once it
// is committed in PostgreSQL) and prints one line:
//   sent=<reports> acked=<reports> buckets=<reported buckets acked>
//   seconds=<from the first send to the last ack>
//
//   usage_load ENDPOINT FIRST_RULE RULES AGENTS ENTRIES SECONDS
//
// Acknowledgements are awaited up to 30 s after the last report; those
// that have not come by then are left out (acked < sent: the controller
// did not keep up with the rate). Exit status 1 on bad arguments.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/heavy_hitters.h"
#include "common/usage.h"
#include "common/wire.h"

namespace {

using Clock = std::chrono::steady_clock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One summary of `entries` clients with Zipf-like weights; client names
// differ per agent and rule so that merges evict.
sluice::UsageSummary Summary(int64_t rule_id, int64_t minute_ms,
                             sluice::UsageRanking by, int agent, int entries) {
  sluice::HeavyHitters hh(static_cast<size_t>(entries));
  for (int k = 1; k <= entries; ++k) {
    const std::string key = sluice::UsageClientKey(
        {"c" + std::to_string((agent * 7919 + k * 31) % 100000)});
    hh.Add(key, 1 + 10000 / k, k % 3);
  }
  return sluice::ToUsageSummary(rule_id, minute_ms, by, hh);
}

sluice::UsageReport Report(int agent, uint64_t incarnation, uint64_t seq,
                           int64_t first_rule, int rules, int entries) {
  sluice::UsageReport report;
  report.agent_id = "usage-load-" + std::to_string(agent);
  report.incarnation = incarnation;
  report.seq = seq;
  report.sent_ms = WallMs();
  report.version = "usage-load";
  const int64_t minute = sluice::MinuteStart(report.sent_ms);
  for (int r = 0; r < rules; ++r) {
    const int64_t rule_id = first_rule + r;
    report.counts.push_back(sluice::UsageCounts{rule_id, minute, 100, 10, 0});
    for (sluice::UsageRanking by :
         {sluice::UsageRanking::kRefused, sluice::UsageRanking::kAllowed}) {
      report.summaries.push_back(
          Summary(rule_id, minute - 60'000, by, agent, entries));
    }
  }
  return report;
}

int64_t DrainAcks(std::vector<zmq::socket_t>& sockets) {
  int64_t acks = 0;
  for (zmq::socket_t& socket : sockets) {
    zmq::message_t msg;
    while (socket.recv(msg, zmq::recv_flags::dontwait)) {
      auto decoded = sluice::DecodeWireMessage(msg.to_string_view());
      if (decoded.ok() && std::holds_alternative<sluice::UsageAck>(*decoded)) {
        ++acks;
      }
    }
  }
  return acks;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: usage_load ENDPOINT FIRST_RULE RULES AGENTS ENTRIES "
                 "SECONDS\n");
    return 1;
  }
  const std::string endpoint = argv[1];
  const int64_t first_rule = std::atoll(argv[2]);
  const int rules = std::atoi(argv[3]);
  const int agents = std::atoi(argv[4]);
  const int entries = std::atoi(argv[5]);
  const int seconds = std::atoi(argv[6]);
  if (first_rule < 1 || rules < 1 || agents < 1 || entries < 1 ||
      entries > 256 || seconds < 1) {
    std::fprintf(stderr,
                 "usage_load: FIRST_RULE, RULES, AGENTS and SECONDS must be "
                 "positive, ENTRIES 1 to 256\n");
    return 1;
  }
  zmq::context_t context(1);
  std::vector<zmq::socket_t> sockets;
  for (int a = 0; a < agents; ++a) {
    sockets.emplace_back(context, zmq::socket_type::dealer);
    sockets.back().set(zmq::sockopt::linger, 0);
    sockets.back().connect(endpoint);
    sluice::Hello hello;
    hello.agent_id = "usage-load-" + std::to_string(a);
    sockets.back().send(zmq::buffer(sluice::EncodeWireMessage(hello)),
                        zmq::send_flags::none);
  }
  // The reports are made before the clock starts: only the controller's
  // work is timed. A fresh incarnation per run: a controller reused
  // between runs counts every report.
  const auto incarnation = static_cast<uint64_t>(WallMs());
  std::vector<std::vector<std::string>> encoded(seconds);
  for (int s = 0; s < seconds; ++s) {
    for (int a = 0; a < agents; ++a) {
      encoded[s].push_back(sluice::EncodeWireMessage(
          Report(a, incarnation, static_cast<uint64_t>(s) + 1, first_rule,
                 rules, entries)));
    }
  }
  const Clock::time_point start = Clock::now();
  int64_t sent = 0;
  int64_t acked = 0;
  for (int s = 0; s < seconds; ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    for (int a = 0; a < agents; ++a) {
      sockets[a].send(zmq::buffer(encoded[s][a]), zmq::send_flags::none);
      ++sent;
    }
    acked += DrainAcks(sockets);
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  Clock::time_point last_ack = Clock::now();
  while (acked < sent && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const int64_t more = DrainAcks(sockets);
    if (more > 0) last_ack = Clock::now();
    acked += more;
  }
  const double elapsed =
      std::chrono::duration<double>(last_ack - start).count();
  std::printf("sent=%lld acked=%lld buckets=%lld seconds=%.2f\n",
              static_cast<long long>(sent), static_cast<long long>(acked),
              static_cast<long long>(acked * rules * 2 * entries), elapsed);
  return 0;
}
