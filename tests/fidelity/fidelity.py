#!/usr/bin/python3
"""Sluice fidelity harness: does the fleet of agents hold the global limit?

Runs a real sluice-controller (on a database of its own in an existing
PostgreSQL server), N real sluice-agent processes (own socket, --agent-id,
--metrics each) and paced clients: one process per client (multiprocessing,
no GIL sharing), each sending RL.CHECK over its agent's Unix socket on a
schedule (time.monotonic) and recording every decision (send time, reply
time, agent, allowed, cost) to a file. At the end the files are merged and
analysed (analysis.py) into a table of figures with pass/fail against the
leasing goals of docs/design.md ("Leasing"), listed below. Exit status: 0 all passed, 1 a goal failed, 2 the harness
itself could not run.

Normally started by run.sh, which builds the binaries and provides the
PostgreSQL server:

  fidelity.py --build DIR --server CONNINFO [--agents 3] [--quick] [--keep]
              [scenario ...]       # limit shift lease (default: all)
"""

import argparse
import array
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analysis  # noqa: E402

TOKEN = "fidelity-admin-token"
READY_DOMAIN = "fid-ready"
READY_LIMIT = 1000000
# One client process paces at most this many checks per second; an agent
# with more demand gets several processes.
MAX_CLIENT_RATE = 1500.0
# A client further behind its schedule than this skips the missed checks
# (counted: "demand delivered" shows it) instead of bursting to catch up.
MAX_LAG_S = 0.1
SAMPLE_INTERVAL_S = 0.1
LEARNING_TIMEOUT_S = 15.0

# Goals: the leasing properties of docs/design.md, with their tolerances.
TOTAL_SLACK = 0.01       # total admitted <= (burst + rate*T) * 1.01
WINDOW_SLACK = 0.05      # any 1 s window <= (burst + rate) * 1.05
UTILISATION_GOAL = 0.97  # steady admitted / limit when demand > limit
FAIR_TOLERANCE = 0.10    # each agent within +-10 % of its max-min share
CONVERGE_WINDOW_S = 0.2
CONVERGE_GOAL_S = 1.0
LEASE_FLAT_GOAL = 1.5    # lease msgs/s at 10x the request rate / at 1x
# ... or at most this many per agent per second at 10x: a bucket used far
# below its share only reports (every 5 s, or when it admitted half of its
# share), so its few messages grow with demand up to 2 * rate / burst a
# second, far below the refresh cadence (20/s).
LEASE_LOW_GOAL = 1.0
DELIVERED_GOAL = 0.90    # clients sent >= 90 % of their schedule


class HarnessError(Exception):
    """The harness could not set up or run (not a failed goal)."""


# --------------------------------------------------------------------------
# Scenarios


class Phase:
    def __init__(self, start, end, demand, label=""):
        self.start, self.end = float(start), float(end)
        self.demand = dict(demand)  # agent index -> checks per second
        self.label = label


class Scenario:
    def __init__(self, name, title, limit, burst, phases, warmup,
                 period_s=1):
        self.name, self.title = name, title
        self.limit, self.burst, self.period_s = limit, burst, period_s
        self.phases = phases
        self.warmup = warmup  # seconds of the first phase not "steady"
        self.domain = "fid-" + name

    @property
    def rate(self):
        return self.limit / self.period_s

    @property
    def end(self):
        return self.phases[-1].end


def build_scenarios(agents, quick):
    per = {i: 1800.0 / agents for i in range(agents)}
    out = {}
    run = 5.0 if quick else 8.0
    out["limit"] = Scenario(
        "limit", "safety and utilisation: %d agents share one bucket, "
        "demand 1.8x the limit" % agents,
        limit=1000, burst=500,
        phases=[Phase(0, run, per, "1800/s over %d agents" % agents)],
        warmup=1.5 if quick else 2.0)
    if agents >= 2:
        out["shift"] = Scenario(
            "shift", "convergence: demand moves from agent 0 to agent 1, "
            "then agent 0 comes back",
            limit=1000, burst=500,
            phases=[Phase(0, 3, {0: 3000}, "a0 3000/s"),
                    Phase(3, 6, {1: 2000}, "a0 stops, a1 2000/s"),
                    Phase(6, 9, {0: 1000, 1: 2000},
                          "a0 1000/s + a1 2000/s")],
            warmup=1.0)
    low = {i: 300.0 / agents for i in range(agents)}
    high = {i: 3000.0 / agents for i in range(agents)}
    out["lease"] = Scenario(
        "lease", "lease traffic: one hot bucket, request rate grows 10x "
        "(under the limit)",
        limit=10000, burst=10000,
        phases=[Phase(0, 4, low, "300/s"), Phase(4, 8, high, "3000/s")],
        warmup=1.0)
    return out


# --------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(url, names):
    """Sums of the named metrics (over label sets) from a /metrics page."""
    _, text = http("GET", url, timeout=2.0)
    sums = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0]
        if name in sums:
            sums[name] += float(value)
    return sums


def with_dbname(conninfo, dbname):
    if conninfo.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(conninfo)
        return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))
    return (conninfo + " dbname=" + dbname).strip()


def psql(conninfo, sql):
    done = subprocess.run(
        ["psql", conninfo, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=30)
    if done.returncode != 0:
        raise HarnessError("psql '%s' on %s failed: %s" %
                           (sql, conninfo, done.stdout.strip()))


class Resp:
    """A minimal blocking RESP connection for setup probes."""

    def __init__(self, path):
        import redis
        self.conn = redis.UnixDomainSocketConnection(path=path,
                                                     socket_timeout=5)
        self.conn.connect()

    def call(self, *args):
        self.conn.send_command(*args)
        return self.conn.read_response()

    def close(self):
        self.conn.disconnect()


class Stack:
    """PostgreSQL database, controller and agents; stop() kills by PID."""

    def __init__(self, build, server, agents, work):
        self.build, self.server, self.n, self.work = build, server, agents, work
        self.dbname = "sluice_fid_%d" % os.getpid()
        self.db_created = False
        self.procs = []  # (name, Popen, log path)
        self.http_port = free_port()
        self.zmq_port = free_port()
        self.metrics_port = free_port()
        self.agent_metrics = [free_port() for _ in range(agents)]
        self.sockets = [os.path.join(work, "agent-%d.sock" % i)
                        for i in range(agents)]
        self.rules = {}

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.http_port

    def controller_metrics_url(self):
        return "http://127.0.0.1:%d/metrics" % self.metrics_port

    def agent_metrics_url(self, i):
        return "http://127.0.0.1:%d/metrics" % self.agent_metrics[i]

    def spawn(self, name, argv, env=None):
        log = os.path.join(self.work, name + ".log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env=env)
        self.procs.append((name, proc, log))
        return proc

    def check_alive(self):
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                raise HarnessError("%s exited with status %s; its log:\n%s" %
                                   (name, proc.returncode, tail(log)))

    def start(self):
        psql(self.server, "DROP DATABASE IF EXISTS %s" % self.dbname)
        psql(self.server, "CREATE DATABASE %s" % self.dbname)
        self.db_created = True
        env = dict(os.environ, SLUICE_ADMIN_TOKEN=TOKEN)
        self.spawn("controller", [
            os.path.join(self.build, "controller", "sluice-controller"),
            "--db", with_dbname(self.server, self.dbname),
            "--http", "127.0.0.1:%d" % self.http_port,
            "--agents", "tcp://127.0.0.1:%d" % self.zmq_port,
            "--metrics", "127.0.0.1:%d" % self.metrics_port], env=env)
        for i in range(self.n):
            self.spawn("agent-%d" % i, [
                os.path.join(self.build, "agent", "sluice-agent"),
                "--controller", "tcp://127.0.0.1:%d" % self.zmq_port,
                "--socket", self.sockets[i],
                "--agent-id", "fid-%d" % i,
                "--metrics", "127.0.0.1:%d" % self.agent_metrics[i]])
        self.wait("the controller's /readyz", 30, self.ready)

    def ready(self):
        try:
            return http("GET", self.base + "/readyz", timeout=1)[0] == 200
        except OSError:
            return False

    def wait(self, what, seconds, predicate, interval=0.05):
        deadline = time.monotonic() + seconds
        while True:
            self.check_alive()
            if predicate():
                return
            if time.monotonic() > deadline:
                raise HarnessError("timed out after %d s waiting for %s" %
                                   (seconds, what))
            time.sleep(interval)

    def create_rule(self, name, domain, limit, burst, period="1s"):
        rule = {"name": name, "domain": domain, "match": {"k": "hot"},
                "limit": limit, "period": period, "burst": burst,
                "mode": "enforce", "failure_mode": "local"}
        status, body = http("POST", self.base + "/api/v1/rules", rule)
        if status != 201:
            raise HarnessError("creating rule %s: HTTP %d %s" %
                               (name, status, body))
        self.rules[domain] = json.loads(body)

    def settle(self, scenarios):
        """Creates the scenarios' rules, waits until every agent has them,
        sees all N agents, and holds a real lease (the controller's learning
        period is over)."""
        for sc in scenarios:
            self.create_rule("fidelity-" + sc.name, sc.domain, sc.limit,
                             sc.burst, "%ds" % sc.period_s)
        # Created last: an agent that has it has the others too.
        self.create_rule("fidelity-ready", READY_DOMAIN, READY_LIMIT,
                         READY_LIMIT)
        conns = []
        for path in self.sockets:
            self.wait("agent socket " + path, 20,
                      lambda p=path: os.path.exists(p))
            conns.append(Resp(path))
        try:
            def info(c):
                text = c.call("RL.INFO")
                if isinstance(text, bytes):
                    text = text.decode()
                return dict(line.split(":", 1) for line in text.split("\r\n")
                            if ":" in line)

            def rules_and_agents():
                for c in conns:
                    reply = c.call("RL.CHECK", READY_DOMAIN, 0, "k", "hot")
                    if reply[1] != READY_LIMIT:
                        return False
                    if int(info(c).get("agents", 0)) != self.n:
                        return False
                return True
            self.wait("every agent to have the rules and see %d agents" %
                      self.n, 20, rules_and_agents)

            def leased():
                ok = True
                for c in conns:
                    # More than half of a safe share: a bucket used far
                    # below its share is decided locally, without a lease.
                    c.call("RL.CHECK", READY_DOMAIN, READY_LIMIT, "k", "hot")
                    ok = ok and int(info(c).get("leases", 0)) >= 1
                return ok
            self.wait("the controller's learning period to end (a real "
                      "lease at every agent)", LEARNING_TIMEOUT_S, leased,
                      interval=0.1)
        finally:
            for c in conns:
                c.close()

    def stop(self):
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print("warning: %s (pid %d) ignored SIGTERM; killing it" %
                      (name, proc.pid), file=sys.stderr)
                proc.kill()
                proc.wait()
        self.procs = []
        if self.db_created:
            try:
                psql(self.server, "DROP DATABASE IF EXISTS %s WITH (FORCE)" %
                     self.dbname)
            except (HarnessError, OSError, subprocess.SubprocessError) as e:
                print("warning: could not drop database %s: %s" %
                      (self.dbname, e), file=sys.stderr)
            self.db_created = False


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


# --------------------------------------------------------------------------
# Clients


def client_main(sock_path, agent, domain, segments, t0, offset, out_path):
    """One paced client. segments: [(start, end, rate)] relative to t0;
    `offset` in [0, 1) staggers clients of one agent. Writes
    "t_send t_recv agent allowed cost" lines (allowed: 1, 0, or -1 for an
    error reply) and a last "# scheduled sent skipped" line."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import redis
    conn = redis.UnixDomainSocketConnection(path=sock_path, socket_timeout=5)
    conn.connect()
    conn.send_command("PING")
    conn.read_response()
    args = ("RL.CHECK", domain, 1, "k", "hot")
    sent_t = array.array("d")
    recv_t = array.array("d")
    allowed = array.array("b")
    scheduled = skipped = 0
    now = time.monotonic
    sleep = time.sleep
    if t0 > now():
        sleep(t0 - now())
    for start, end, rate in segments:
        if rate <= 0:
            continue
        interval = 1.0 / rate
        n = int(round((end - start) * rate))
        scheduled += n
        base = t0 + start + offset * interval
        i = 0
        while i < n:
            due = base + i * interval
            t = now()
            if due > t:
                sleep(due - t)
            elif t - due > MAX_LAG_S:
                behind = max(1, int((t - due) / interval))
                skipped += min(behind, n - i)
                i += behind
                continue
            t = now()
            conn.send_command(*args)
            try:
                reply = conn.read_response()
                ok = 1 if reply[0] == 1 else 0
            except redis.ResponseError:
                ok = -1
            sent_t.append(t)
            recv_t.append(now())
            allowed.append(ok)
            i += 1
    conn.disconnect()
    with open(out_path, "w") as f:
        for k in range(len(sent_t)):
            f.write("%.6f %.6f %d %d 1\n" % (sent_t[k], recv_t[k], agent,
                                             allowed[k]))
        f.write("# %d %d %d\n" % (scheduled, len(sent_t), skipped))


def client_plan(sc):
    """[(agent, offset, segments)]: per agent, enough processes that none
    paces more than MAX_CLIENT_RATE in any phase."""
    agents = sorted({a for p in sc.phases for a in p.demand})
    plan = []
    for a in agents:
        peak = max(p.demand.get(a, 0) for p in sc.phases)
        n = max(1, int(math.ceil(peak / MAX_CLIENT_RATE)))
        segs = [(p.start, p.end, p.demand.get(a, 0) / n) for p in sc.phases]
        for k in range(n):
            plan.append((a, k / n, segs))
    return plan


class Sampler(threading.Thread):
    """Scrapes the controller's and the agents' lease counters."""

    CONTROLLER = "sluice_controller_lease_requests_total"
    AGENT = "sluice_agent_lease_requests_total"

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.stop_event = threading.Event()
        self.controller = []  # (t, value)
        self.agents = []      # (t, sum over agents)
        self.errors = 0

    def run(self):
        while not self.stop_event.is_set():
            t = time.monotonic()
            try:
                c = scrape(self.stack.controller_metrics_url(),
                           [self.CONTROLLER])[self.CONTROLLER]
                a = sum(scrape(self.stack.agent_metrics_url(i),
                               [self.AGENT])[self.AGENT]
                        for i in range(self.stack.n))
                mid = (t + time.monotonic()) / 2
                self.controller.append((mid, c))
                self.agents.append((mid, a))
            except (OSError, ValueError):
                self.errors += 1
            self.stop_event.wait(SAMPLE_INTERVAL_S)


def run_scenario(stack, sc, work):
    plan = client_plan(sc)
    ctx = multiprocessing.get_context("fork")
    t0 = time.monotonic() + 1.0  # time for the clients to start and connect
    procs = []
    for idx, (agent, offset, segs) in enumerate(plan):
        out = os.path.join(work, "%s-client-%d.txt" % (sc.name, idx))
        p = ctx.Process(target=client_main,
                        args=(stack.sockets[agent], agent, sc.domain, segs,
                              t0, offset, out),
                        daemon=True)
        p.start()
        procs.append((p, out))
    sampler = Sampler(stack)
    sampler.start()
    try:
        deadline = t0 + sc.end + 15
        for p, _ in procs:
            p.join(max(0.1, deadline - time.monotonic()))
        stack.check_alive()
        for idx, (p, out) in enumerate(procs):
            if p.is_alive():
                raise HarnessError("client %d of scenario %s did not finish "
                                   "in time" % (idx, sc.name))
            if p.exitcode != 0:
                raise HarnessError("client %d of scenario %s failed (exit "
                                   "%s): is agent %d up? (log: %s)" %
                                   (idx, sc.name, p.exitcode, plan[idx][0],
                                    os.path.join(work, "agent-%d.log" %
                                                 plan[idx][0])))
        time.sleep(0.3)  # one more sample after the end
    finally:
        sampler.stop_event.set()
        sampler.join()
        for p, _ in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join()
    decisions = []  # (t relative to t0, agent, allowed, cost)
    scheduled = sent = skipped = 0
    for _, out in procs:
        with open(out) as f:
            for line in f:
                if line.startswith("#"):
                    s, n, k = (int(x) for x in line[1:].split())
                    scheduled, sent, skipped = (scheduled + s, sent + n,
                                                skipped + k)
                    continue
                ts, _, agent, ok, cost = line.split()
                decisions.append((float(ts) - t0, int(agent), int(ok),
                                  int(cost)))
    decisions.sort()
    shift = lambda samples: [(t - t0, v) for t, v in samples]  # noqa: E731
    return {"decisions": decisions, "scheduled": scheduled, "sent": sent,
            "skipped": skipped, "controller": shift(sampler.controller),
            "agents": shift(sampler.agents),
            "sample_errors": sampler.errors}


# --------------------------------------------------------------------------
# Analysis into rows: (scenario, figure, value, goal, passed or None)


def pct(x):
    return "%.1f %%" % (100.0 * x)


def per_agent(rates):
    return ", ".join("a%d %.0f/s" % (a, rates[a]) for a in sorted(rates))


def analyse(sc, res):
    rows = []
    name = sc.name
    d = res["decisions"]
    if not d:
        return [(name, "decisions recorded", "0", "> 0", False)]
    errors = sum(1 for x in d if x[2] < 0)
    admitted = [(t, c) for t, _, ok, c in d if ok == 1]
    times = [t for t, _ in admitted]
    costs = [c for _, c in admitted]
    delivered = res["sent"] / max(1, res["scheduled"])
    span = d[-1][0] - d[0][0]
    rows.append((name, "demand delivered (checks sent / scheduled)",
                 "%d / %d (%s)" % (res["sent"], res["scheduled"],
                                   pct(delivered)),
                 ">= %s (else the machine was too busy)" %
                 pct(DELIVERED_GOAL), delivered >= DELIVERED_GOAL))
    rows.append((name, "error replies", str(errors), "0", errors == 0))

    # Safety: the whole run, cold start included.
    total = sum(costs)
    bound = sc.burst + sc.rate * span
    rows.append((name, "total admitted / (burst + rate*T), T=%.2f s" % span,
                 "%d / %.0f (%s)" % (total, bound, pct(total / bound)),
                 "<= %s" % pct(1 + TOTAL_SLACK),
                 total <= bound * (1 + TOTAL_SLACK)))
    win, win_start = (analysis.max_window(times, costs, 1.0)
                      if times else (0, 0.0))
    wbound = sc.burst + sc.rate
    rows.append((name, "max admitted in any 1 s window / (burst + rate)",
                 "%d / %d (%s) at t=%.2f s" % (win, wbound, pct(win / wbound),
                                               win_start),
                 "<= %s" % pct(1 + WINDOW_SLACK),
                 win <= wbound * (1 + WINDOW_SLACK)))

    prefix = analysis.prefix_sums(costs)
    series = {}
    for a in sorted({x[1] for x in d}):
        at = [t for t, ag, ok, c in d if ok == 1 and ag == a]
        ac = [c for t, ag, ok, c in d if ok == 1 and ag == a]
        series[a] = (at, analysis.prefix_sums(ac))

    for i, p in enumerate(sc.phases):
        demand = sum(p.demand.values())
        warm = sc.warmup if i == 0 else 1.0
        s0, s1 = p.start + warm, p.end
        # Utilisation: phases whose demand exceeds the limit.
        if demand > sc.rate and s1 > s0:
            got = analysis.admitted_in(times, prefix, s0, s1) / (s1 - s0)
            rows.append((name, "utilisation [%s], steady t=%.1f-%.1f s "
                         "(first %.1f s excluded)" % (p.label, s0, s1, warm),
                         "%.0f/s of %.0f/s (%s)" % (got, sc.rate,
                                                    pct(got / sc.rate)),
                         ">= %s" % pct(UTILISATION_GOAL),
                         got >= UTILISATION_GOAL * sc.rate))
            if sc.name != "shift" and len(p.demand) > 1:
                shares = analysis.max_min_fair(p.demand, sc.rate)
                rates = analysis.window_rates(series, shares, s0, s1 - s0)
                rows.append((name, "split, same window (fair: %s)" %
                             per_agent(shares), per_agent(rates), "(info)",
                             None))
        if sc.name != "shift" or i == 0:
            continue
        shares = analysis.max_min_fair(p.demand, sc.rate)
        share_text = per_agent(shares)
        reached, settled = analysis.convergence(
            series, shares, p.start, p.end, CONVERGE_WINDOW_S, 0.01,
            1.0 - FAIR_TOLERANCE)
        show = lambda x: "never" if x is None else "%.2f s" % x  # noqa: E731
        rows.append((name, "convergence after t=%.1f s [%s] to fair %s" %
                     (p.start, p.label, share_text),
                     "reached %s (settled %s)" % (show(reached),
                                                  show(settled)),
                     "reached < %.1f s" % CONVERGE_GOAL_S,
                     reached is not None and reached < CONVERGE_GOAL_S))
        f0, f1 = p.start + CONVERGE_GOAL_S, p.end
        rates = analysis.window_rates(series, shares, f0, f1 - f0)
        worst = max((abs(rates[a] - shares[a]) / shares[a]
                     for a in shares if shares[a] > 0), default=0.0)
        rows.append((name, "split t=%.1f-%.1f s (1 s after the change on) vs "
                     "fair, worst deviation" % (f0, f1), "%s (%s)" % (per_agent(rates), pct(worst)),
                     "<= %s" % pct(FAIR_TOLERANCE), worst <= FAIR_TOLERANCE))

    if sc.name == "lease":
        per_phase = []
        for i, p in enumerate(sc.phases):
            s0, s1 = p.start + sc.warmup, p.end
            c = analysis.counter_rate(res["controller"], s0, s1)
            a = analysis.counter_rate(res["agents"], s0, s1)
            got = sum(1 for t, _, _, _ in d if s0 <= t < s1) / (s1 - s0)
            per_phase.append(c)
            rows.append((name, "lease msgs/s at %.0f checks/s, t=%.1f-%.1f s"
                         % (got, s0, s1),
                         "controller %s, agents' wants %s" %
                         ("n/a" if c is None else "%.1f" % c,
                          "n/a" if a is None else "%.1f" % a),
                         "(info)", None))
        lo, hi = per_phase[0], per_phase[-1]
        if lo is None or hi is None:
            rows.append((name, "lease msgs/s ratio (10x load / 1x)",
                         "no metrics (%d scrape errors)" %
                         res["sample_errors"], "<= %.1f" % LEASE_FLAT_GOAL,
                         False))
        else:
            ratio = hi / max(lo, 0.1)
            n = len({a for p in sc.phases for a in p.demand})
            rows.append((name, "lease msgs/s ratio (10x load / 1x)",
                         "%.2f (%.1f -> %.1f msgs/s)" % (ratio, lo, hi),
                         "<= %.1f (flat), or <= %.1f/s per agent" %
                         (LEASE_FLAT_GOAL, LEASE_LOW_GOAL),
                         ratio <= LEASE_FLAT_GOAL or
                         hi <= LEASE_LOW_GOAL * n))
    else:
        c = analysis.counter_rate(res["controller"], 0.0, sc.end)
        if c is not None:
            rows.append((name, "lease msgs/s (controller), whole run",
                         "%.1f" % c, "(info)", None))
    return rows


def print_table(rows):
    heads = ("scenario", "figure", "measured", "goal", "result")
    cells = [(r[0], r[1], r[2], r[3],
              "info" if r[4] is None else ("PASS" if r[4] else "FAIL"))
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells))
              for i, h in enumerate(heads)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % heads)
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(fmt % c)


NOTES = """\
Definitions:
  T            time from the scenario's first decision to its last; the
               total and window checks cover the whole run, cold start
               included (the bucket is new when the scenario starts).
  1 s window   every window [t, t+1 s) starting at an admitted decision.
  steady       a phase minus its first seconds (shown per row): warm-up
               and the change of demand are excluded from utilisation.
  convergence  200 ms windows [t, t+200 ms) from the phase change on,
               in 10 ms steps; a window is fair when every agent with
               demand admits >= 90 % of its max-min fair share of the limit
               (shares from the scheduled demand). "reached" (the goal):
               seconds from the change to the first fair window.
               "settled" (info): to the first window from which every
               later 200 ms window of the phase is fair; leases come in
               batches, so this shows their granularity.
  split        from 1 s after the change to the end of the phase, each
               agent's admitted rate against its fair share, in either
               direction: the split is fair within 10 % one second after
               the change and stays so.
  lease msgs/s LeaseRequests counted by the controller
               (sluice_controller_lease_requests_total, sampled every
               100 ms) over each phase minus its first second; the
               agents' sluice_agent_lease_requests_total (bucket wants
               sent) is shown beside it. Flat: at 10x the load at most
               1.5x the messages, or at most 1 a second per agent (a
               bucket used far below its share only reports)."""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True,
                    help="build directory with agent/sluice-agent and "
                    "controller/sluice-controller")
    ap.add_argument("--server", required=True,
                    help="libpq conninfo of a PostgreSQL server; the "
                    "harness creates and drops a database of its own there")
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="shorter runs (the ctest entry)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (logs, decision files)")
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    if args.agents < 1:
        ap.error("--agents must be 1 or more")
    all_sc = build_scenarios(args.agents, args.quick)
    names = args.scenarios or list(all_sc)
    for n in names:
        if n not in all_sc:
            ap.error("unknown scenario '%s'; choose from %s%s" %
                     (n, ", ".join(all_sc),
                      "" if args.agents >= 2 else " (shift needs 2 agents)"))
    for binary in ("agent/sluice-agent", "controller/sluice-controller"):
        if not os.access(os.path.join(args.build, binary), os.X_OK):
            ap.error("%s not found in %s; build it first (run.sh does)" %
                     (binary, args.build))

    def on_signal(signo, _frame):
        raise KeyboardInterrupt("signal %d" % signo)
    signal.signal(signal.SIGTERM, on_signal)

    work = tempfile.mkdtemp(prefix="sluice-fidelity.")
    stack = Stack(args.build, args.server, args.agents, work)
    rows = []
    started = time.monotonic()
    try:
        print("fidelity: %d agents, build %s, work %s" %
              (args.agents, args.build, work), flush=True)
        stack.start()
        stack.settle([all_sc[n] for n in names])
        print("fidelity: stack ready in %.1f s" %
              (time.monotonic() - started), flush=True)
        for n in names:
            sc = all_sc[n]
            print("fidelity: scenario %s (%.0f s): %s; limit %d/%ds burst "
                  "%d" % (n, sc.end, sc.title, sc.limit, sc.period_s,
                          sc.burst), flush=True)
            res = run_scenario(stack, sc, work)
            rows.extend(analyse(sc, res))
            time.sleep(0.5)  # let the last reports of this bucket go
    except HarnessError as e:
        print("fidelity: harness error: %s" % e, file=sys.stderr)
        for name, _, log in stack.procs:
            print("--- %s (last lines) ---\n%s" % (name, tail(log, 15)),
                  file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fidelity: interrupted", file=sys.stderr)
        return 130
    finally:
        stack.stop()
        if args.keep:
            print("fidelity: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print_table(rows)
    print()
    print(NOTES)
    failed = [r for r in rows if r[4] is False]
    print()
    print("fidelity: %d checks, %d failed, %.0f s" %
          (sum(1 for r in rows if r[4] is not None), len(failed),
           time.monotonic() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
