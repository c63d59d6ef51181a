// client_overhead: the client CPU a sluice::client::Client check costs next
// to a raw hiredis RL.CHECK, against the same real agent, side by side.
//
//   client_overhead SOCKET [ROUNDS] [CHECKS]
//
// Each round runs CHECKS checks with each of: raw hiredis
// (redisCommandArgv + freeReplyObject, one connection), the Client
// (Check), raw hiredis with a read/write timeout (as the client
// has), a pipelined hiredis batch of 16 and a Client CheckBatch of 16,
// alternating A B C D E, A B C D E, ... on one thread. Client CPU is the
// thread's user + system time (getrusage RUSAGE_THREAD) divided by the
// checks, so the agent's work and the wait for it are not counted. Prints
// each round and the medians; exits non-zero if a check fails. The same
// descriptor shape in every case, over 100k client ids.
#include <hiredis/hiredis.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "sluice/client.h"

namespace {

double ThreadCpuMicros() {
  rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec +
         usage.ru_stime.tv_sec * 1e6 + usage.ru_stime.tv_usec;
}

std::string ClientId(int i) { return std::to_string((i * 7919) % 100000); }

void Die(const std::string& what) {
  std::fprintf(stderr, "client_overhead: %s\n", what.c_str());
  std::exit(1);
}

bool GoodReply(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY &&
         reply->elements == 5;
}

void RawHiredis(redisContext* c, int checks) {
  for (int i = 0; i < checks; ++i) {
    const std::string id = ClientId(i);
    const char* argv[] = {"RL.CHECK", "api", "1", "client", id.c_str()};
    size_t lens[] = {8, 3, 1, 6, id.size()};
    auto* reply = static_cast<redisReply*>(redisCommandArgv(c, 5, argv, lens));
    if (!GoodReply(reply)) Die("hiredis: no RL.CHECK reply");
    freeReplyObject(reply);
  }
}

void RawHiredisBatch(redisContext* c, int checks, int batch) {
  for (int i = 0; i < checks; i += batch) {
    std::string ids[64];
    for (int j = 0; j < batch; ++j) {
      ids[j] = ClientId(i + j);
      const char* argv[] = {"RL.CHECK", "api", "1", "client", ids[j].c_str()};
      size_t lens[] = {8, 3, 1, 6, ids[j].size()};
      redisAppendCommandArgv(c, 5, argv, lens);
    }
    for (int j = 0; j < batch; ++j) {
      void* reply = nullptr;
      if (redisGetReply(c, &reply) != REDIS_OK ||
          !GoodReply(static_cast<redisReply*>(reply))) {
        Die("hiredis: no pipelined RL.CHECK reply");
      }
      freeReplyObject(reply);
    }
  }
}

void ClientChecks(sluice::client::Client& client, int checks) {
  for (int i = 0; i < checks; ++i) {
    const std::string id = ClientId(i);
    sluice::client::Decision d = client.Check("api", 1, {{"client", id}});
    if (!d.from_agent()) Die("client: " + d.error_message);
  }
}

void ClientBatches(sluice::client::Client& client, int checks, int batch) {
  std::vector<sluice::client::CheckRequest> requests(batch);
  std::vector<std::string> ids(batch);
  std::vector<sluice::client::Decision> out;
  for (auto& r : requests) r.domain = "api";
  for (int i = 0; i < checks; i += batch) {
    for (int j = 0; j < batch; ++j) {
      ids[j] = ClientId(i + j);
      requests[j].descriptor.assign({{"client", ids[j]}});
    }
    client.CheckBatch(requests, &out);
    for (const auto& d : out) {
      if (!d.from_agent()) Die("client batch: " + d.error_message);
    }
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: client_overhead SOCKET [ROUNDS] [CHECKS]");
  const std::string socket = argv[1];
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const int checks = argc > 3 ? std::atoi(argv[3]) : 100000;
  const int batch = 16;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each round as it ends

  redisContext* raw = redisConnectUnix(socket.c_str());
  if (raw == nullptr || raw->err) Die("hiredis cannot connect to " + socket);
  // The same, with a read/write timeout as the client has (SO_RCVTIMEO and
  // SO_SNDTIMEO): a blocking recv with a timeout arms a kernel timer.
  redisContext* timed = redisConnectUnix(socket.c_str());
  if (timed == nullptr || timed->err) Die("hiredis cannot connect");
  timeval tv{1, 0};  // the client's call_timeout below
  if (redisSetTimeout(timed, tv) != REDIS_OK) Die("redisSetTimeout failed");
  sluice::client::ClientOptions options;
  options.socket_path = socket;
  options.call_timeout = std::chrono::milliseconds(1000);
  sluice::client::Client client(options);

  struct Case {
    const char* name;
    std::function<void()> run;
    std::vector<double> us_per_check;
  };
  std::vector<Case> cases = {
      {"hiredis", [&] { RawHiredis(raw, checks); }, {}},
      {"client", [&] { ClientChecks(client, checks); }, {}},
      {"hiredis-timeout", [&] { RawHiredis(timed, checks); }, {}},
      {"hiredis-pipe16", [&] { RawHiredisBatch(raw, checks, batch); }, {}},
      {"client-batch16", [&] { ClientBatches(client, checks, batch); }, {}},
  };
  for (auto& c : cases) c.run();  // warm up: connections, buckets, leases
  for (int round = 0; round < rounds; ++round) {
    for (auto& c : cases) {
      double before = ThreadCpuMicros();
      c.run();
      double us = (ThreadCpuMicros() - before) / checks;
      c.us_per_check.push_back(us);
      std::printf("round %d %-15s %.3f us client CPU per check\n", round,
                  c.name, us);
    }
  }
  std::printf("\nmedian client CPU per check over %d rounds of %d checks:\n",
              rounds, checks);
  for (auto& c : cases) {
    std::printf("  %-15s %.3f us\n", c.name, Median(c.us_per_check));
  }
  // The overhead per round (client - hiredis in the same round), median.
  std::vector<double> single, batched, timed_single;
  for (int r = 0; r < rounds; ++r) {
    single.push_back(cases[1].us_per_check[r] - cases[0].us_per_check[r]);
    batched.push_back(cases[4].us_per_check[r] - cases[3].us_per_check[r]);
    timed_single.push_back(cases[1].us_per_check[r] - cases[2].us_per_check[r]);
  }
  std::printf(
      "library minus raw hiredis, median of per-round differences:\n"
      "  single check                        %+.3f us\n"
      "  single check, hiredis with timeout  %+.3f us\n"
      "  batch of 16, hiredis pipelined      %+.3f us\n",
      Median(single), Median(timed_single), Median(batched));
  sluice::client::ClientStats s = client.stats();
  std::printf("client stats: checks %llu, failed %llu, connections %llu\n",
              static_cast<unsigned long long>(s.checks()),
              static_cast<unsigned long long>(s.failed_open + s.failed_closed),
              static_cast<unsigned long long>(s.connections_opened));
  redisFree(raw);
  redisFree(timed);
  return 0;
}
