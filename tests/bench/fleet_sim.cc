// fleet_sim: a fleet of simulated agents (tests/bench/fleet_agents.h)
// against one or more running sluice-controllers, for tests/bench/fleet.sh.
// In one run:
//   1. connects AGENTS agents to every controller and waits until each
//      holds the rules (and, with several controllers, the whole set);
//      the controllers' RSS before and after gives the memory per agent;
//   2. changes the probe rule through REST (PUT /api/v1/rules/{id} on the
//      first controller) CHANGES times, and times, for each change, how
//      long until each agent holds the new rules revision;
//   3. turns leasing on (one line per bucket per lease interval, to the
//      bucket's owner), warms up, then measures over LEASE_SECONDS each
//      controller's CPU (/proc/PID/stat) against the lease lines it
//      answered, and its RSS growth against the buckets it owns; every
//      agent also sends a usage report a second to the first controller
//      (--usage-reports=0: none), counted when acknowledged (stored);
//   4. changes the probe rule CHANGES times again, under that load.
//
//   fleet_sim --endpoints=E1[,E2...] --pids=P1[,P2...] --http-port=PORT
//             --token=T --rule=ID --probe-rule=ID [--agents=1000]
//             [--buckets=50] [--lease-interval-ms=1000] [--changes=5]
//             [--lease-seconds=20] [--warmup-seconds=5] [--usage-reports=1]
//
// Prints a report; exit status 1 on bad arguments, 2 when the fleet did
// not come up or a rule change failed.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/fleet_agents.h"
#include "tests/bench/fleet_probe.h"

namespace {

using fleet::NowMs;

struct Args {
  fleet::FleetOptions fleet;
  std::vector<int> pids;
  int http_port = 0;
  std::string token;
  int64_t probe_rule = 0;
  int changes = 5;
  int lease_seconds = 20;
  int warmup_seconds = 5;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool Parse(int argc, char** argv, Args* args) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "fleet_sim: '%s' is not --name=value\n", argv[i]);
      return false;
    }
    flags[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
  }
  auto num = [&](const char* name, int64_t fallback) {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : std::atoll(it->second.c_str());
  };
  args->fleet.endpoints = Split(flags["endpoints"]);
  for (const std::string& p : Split(flags["pids"])) {
    args->pids.push_back(std::atoi(p.c_str()));
  }
  args->http_port = static_cast<int>(num("http-port", 0));
  args->token = flags["token"];
  args->fleet.rule_id = num("rule", 0);
  args->probe_rule = num("probe-rule", 0);
  args->fleet.agents = static_cast<int>(num("agents", 1000));
  args->fleet.buckets_per_agent = static_cast<int>(num("buckets", 50));
  args->fleet.lease_interval_ms = num("lease-interval-ms", 1000);
  args->fleet.usage_reports = num("usage-reports", 1) != 0;
  args->changes = static_cast<int>(num("changes", 5));
  args->lease_seconds = static_cast<int>(num("lease-seconds", 20));
  args->warmup_seconds = static_cast<int>(num("warmup-seconds", 5));
  if (args->fleet.endpoints.empty() ||
      args->pids.size() != args->fleet.endpoints.size() ||
      args->http_port <= 0 || args->fleet.rule_id < 1 || args->probe_rule < 1 ||
      args->fleet.agents < 1 || args->fleet.buckets_per_agent < 1 ||
      args->fleet.lease_interval_ms < 10 || args->changes < 1 ||
      args->lease_seconds < 1 || args->warmup_seconds < 0) {
    std::fprintf(stderr,
                 "fleet_sim: needs --endpoints (one or more, comma-separated) "
                 "and as many --pids, --http-port, --token, --rule and "
                 "--probe-rule (rule ids >= 1); --agents, --buckets, "
                 "--changes and --lease-seconds >= 1, --lease-interval-ms "
                 ">= 10\n");
    return false;
  }
  return true;
}

int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p * v.size()));
  return v[std::max<size_t>(rank, 1) - 1];
}

// CHANGES rule changes through REST, each timed until every agent holds
// its revision (at most 15 s). False if a change failed.
bool RunChanges(const Args& args, fleet::FleetAgents* agents, const char* label,
                int64_t* limit) {
  std::vector<int64_t> samples, all_agents;
  int incomplete = 0;
  const double sim_cpu0 = fleet::ProcessCpuSeconds(getpid());
  const int64_t sim_start = NowMs();
  for (int k = 0; k < args.changes; ++k) {
    const int64_t target = agents->MaxRulesVersion() + 1;
    const std::string body =
        "{\"name\":\"fleet-probe\",\"domain\":\"fleet-probe\",\"match\":"
        "{\"client\":\"*\"},\"limit\":" +
        std::to_string(++*limit) + ",\"period\":\"1s\"}";
    const int64_t start = NowMs();
    agents->ArmProbe(target, start);
    std::string error;
    auto put = std::async(std::launch::async, [&] {
      return fleet::PutRule(args.http_port, args.token, args.probe_rule, body,
                            &error);
    });
    const int n = args.fleet.agents;
    const bool all = agents->PumpUntil(
        [&] { return agents->AgentsAtRules(target) == n; }, start + 15'000);
    const int status = put.get();
    if (status != 200) {
      std::fprintf(stderr, "fleet_sim: PUT of the probe rule answered %d: %s\n",
                   status, error.c_str());
      return false;
    }
    const auto& lat = agents->probe_latencies();
    samples.insert(samples.end(), lat.begin(), lat.end());
    if (all) {
      all_agents.push_back(*std::max_element(lat.begin(), lat.end()));
    } else {
      ++incomplete;
    }
    agents->Pump(NowMs() + 500);
  }
  std::printf(
      "propagation (%s): %d changes x %d agents: p50 %lld ms, p99 %lld ms, "
      "max %lld ms; every agent within %lld ms (median of changes), %lld ms "
      "(worst); %d changes not everywhere within 15 s; the simulator used "
      "%.2f cores\n",
      label, args.changes, args.fleet.agents,
      static_cast<long long>(Percentile(samples, 0.5)),
      static_cast<long long>(Percentile(samples, 0.99)),
      static_cast<long long>(Percentile(samples, 1.0)),
      static_cast<long long>(Percentile(all_agents, 0.5)),
      static_cast<long long>(Percentile(all_agents, 1.0)), incomplete,
      (fleet::ProcessCpuSeconds(getpid()) - sim_cpu0) * 1000.0 /
          std::max<int64_t>(NowMs() - sim_start, 1));
  return true;
}

std::vector<int64_t> Rss(const Args& args) {
  std::vector<int64_t> out;
  for (int pid : args.pids) out.push_back(fleet::ProcessRssBytes(pid));
  return out;
}

// One controller's CPU time so far, in seconds: the whole process, its
// lease thread (the agent channel) and its usage writer.
struct CpuSample {
  double process = 0;
  double lease = 0;
  double usage = 0;
};

std::vector<CpuSample> Cpu(const Args& args) {
  std::vector<CpuSample> out;
  for (int pid : args.pids) {
    out.push_back({fleet::ProcessCpuSeconds(pid),
                   fleet::ThreadCpuSeconds(pid, "sluice-lease"),
                   fleet::ThreadCpuSeconds(pid, "sluice-usage")});
  }
  return out;
}

// The fleet as it is when it only keeps in touch (hellos done, heartbeats,
// no leases): per controller, the RSS and the cores used.
struct Baseline {
  std::vector<int64_t> rss;
  std::vector<double> cores;
};

// Connects the fleet and waits until every agent holds rules and the
// whole controller set. Prints the memory and CPU per agent.
bool ComeUp(const Args& args, fleet::FleetAgents* agents, Baseline* base) {
  const std::vector<int64_t> rss0 = Rss(args);
  const int64_t start = NowMs();
  agents->Connect();
  const int n = args.fleet.agents;
  const size_t members = args.pids.size();
  // Every agent connects at once, as after a controller restart: the
  // controller accepts them through its listen backlog, and the refused
  // ones retry. 60 s, and 20 ms more per agent.
  const int64_t limit_ms = 60'000 + 20 * static_cast<int64_t>(n);
  const bool up = agents->PumpUntil(
      [&] {
        return agents->AgentsAtRules(1) == n &&
               (members == 1 || agents->AgentsWithMembers(members) == n);
      },
      start + limit_ms);
  if (!up) {
    std::fprintf(stderr,
                 "fleet_sim: after %lld s only %d of %d agents hold rules and "
                 "%d the %zu-member set\n",
                 static_cast<long long>(limit_ms / 1000),
                 agents->AgentsAtRules(1), n,
                 agents->AgentsWithMembers(members), members);
    return false;
  }
  std::printf("fleet up: %d agents x %zu controllers in %lld ms\n", n, members,
              static_cast<long long>(NowMs() - start));
  agents->Pump(NowMs() + 3000);  // a few heartbeats each
  base->rss = Rss(args);
  const std::vector<CpuSample> cpu0 = Cpu(args);
  const int64_t idle_start = NowMs();
  agents->Pump(idle_start + 5000);
  const double secs = (NowMs() - idle_start) / 1000.0;
  const std::vector<CpuSample> cpu1 = Cpu(args);
  for (size_t c = 0; c < members; ++c) {
    base->cores.push_back((cpu1[c].process - cpu0[c].process) / secs);
    std::printf(
        "controller %zu: RSS %.1f MiB idle, %.1f MiB with %d agents: "
        "%.0f bytes per agent; heartbeats alone %.3f cores (%.1f us "
        "per agent per second)\n",
        c, rss0[c] / 1048576.0, base->rss[c] / 1048576.0, n,
        static_cast<double>(base->rss[c] - rss0[c]) / n, base->cores[c],
        base->cores[c] * 1e6 / n);
  }
  return true;
}

void PrintLeases(size_t c, double secs, const fleet::ControllerCounts& d,
                 const CpuSample& cpu, double idle_cores, int64_t buckets,
                 int64_t rss, int64_t rss_base) {
  const double lines = static_cast<double>(d.lines_answered);
  const double extra = cpu.process - idle_cores * secs;
  std::printf(
      "controller %zu: %.0f lease lines/s answered (%.0f sent/s, %.1f%% "
      "granted), %.2f cores in all: %.0f lines/s per core (%.2f us per line; "
      "above the heartbeats %.2f us; the lease thread %.2f us); usage "
      "reports %.0f/s sent, %.0f/s stored (writer %.2f cores); %lld buckets, "
      "RSS %.1f MiB: %.0f bytes per bucket; %lld errors, %lld sends refused\n",
      c, lines / secs, d.lines_sent / secs,
      100.0 * d.lines_granted / std::max(lines, 1.0), cpu.process / secs,
      cpu.process > 0 ? lines / cpu.process : 0.0,
      lines > 0 ? cpu.process * 1e6 / lines : 0.0,
      lines > 0 ? extra * 1e6 / lines : 0.0,
      lines > 0 ? cpu.lease * 1e6 / lines : 0.0, d.usage_sent / secs,
      d.usage_acked / secs, cpu.usage / secs, static_cast<long long>(buckets),
      rss / 1048576.0,
      buckets > 0 ? static_cast<double>(rss - rss_base) / buckets : 0.0,
      static_cast<long long>(d.errors),
      static_cast<long long>(d.send_failures));
}

void MeasureLeases(const Args& args, fleet::FleetAgents* agents,
                   const Baseline& base) {
  agents->set_leasing(true);
  agents->Pump(NowMs() + args.warmup_seconds * 1000);
  const std::vector<fleet::ControllerCounts> before = agents->counts();
  const std::vector<CpuSample> cpu0 = Cpu(args);
  const double sim_cpu0 = fleet::ProcessCpuSeconds(getpid());
  const int64_t start = NowMs();
  agents->Pump(start + args.lease_seconds * 1000);
  const double secs = (NowMs() - start) / 1000.0;
  std::printf("leasing: the simulator used %.2f cores\n",
              (fleet::ProcessCpuSeconds(getpid()) - sim_cpu0) / secs);
  const std::vector<CpuSample> cpu1 = Cpu(args);
  const std::vector<int64_t> rss = Rss(args);
  const std::vector<fleet::ControllerCounts> after = agents->counts();
  const std::vector<int64_t> buckets = agents->BucketsPerController();
  for (size_t c = 0; c < args.pids.size(); ++c) {
    fleet::ControllerCounts d;
    d.lines_sent = after[c].lines_sent - before[c].lines_sent;
    d.lines_answered = after[c].lines_answered - before[c].lines_answered;
    d.lines_granted = after[c].lines_granted - before[c].lines_granted;
    d.usage_sent = after[c].usage_sent - before[c].usage_sent;
    d.usage_acked = after[c].usage_acked - before[c].usage_acked;
    d.errors = after[c].errors;
    d.send_failures = after[c].send_failures;
    const CpuSample cpu{cpu1[c].process - cpu0[c].process,
                        cpu1[c].lease - cpu0[c].lease,
                        cpu1[c].usage - cpu0[c].usage};
    PrintLeases(c, secs, d, cpu, base.cores[c], buckets[c], rss[c],
                base.rss[c]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, &args)) return 1;
  fleet::FleetAgents agents(args.fleet);
  Baseline base;
  if (!ComeUp(args, &agents, &base)) return 2;
  int64_t limit = 1000;
  if (!RunChanges(args, &agents, "idle", &limit)) return 2;
  MeasureLeases(args, &agents, base);
  if (!RunChanges(args, &agents, "leasing", &limit)) return 2;
  return 0;
}
