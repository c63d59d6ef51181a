#!/usr/bin/env python3
"""Refusals of checks on per-client buckets far below their limit.

Creates a rule of 1000/s per client (burst 1000), then for SECONDS sends
RL.CHECK on BUCKETS random client values through the agent, pipelined 16
at a time, and prints how many checks were refused, with the first few
refused replies ([allowed, limit, remaining, reset_after_ms,
retry_after_ms]) and when they came. No check should be refused: every
bucket sees a few checks a second, far below its limit. Runs on demand
against a real stack (Release build recommended):

  SLUICE_TEST_DB=... /usr/bin/python3 tests/examples/run_with_stack.py \\
    --timeout 120 --agent build/release/agent/sluice-agent \\
    --controller build/release/controller/sluice-controller -- \\
    /usr/bin/python3 tests/bench/fresh_buckets.py [BUCKETS] [SECONDS]
"""
import json
import os
import random
import sys
import time
import urllib.request

import redis


def main():
    buckets = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    rule = {"name": "fresh", "domain": "api", "match": {"client": "*"},
            "limit": 1000, "period": "1s"}
    request = urllib.request.Request(
        os.environ["SLUICE_API"] + "/api/v1/rules",
        data=json.dumps(rule).encode(),
        headers={"Authorization": "Bearer " + os.environ["SLUICE_TOKEN"],
                 "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    agent = redis.Redis(unix_socket_path=os.environ["SLUICE_AGENT_SOCKET"])
    time.sleep(3)  # the rule reaches the agent; the learning period ends
    refused, checks = [], 0
    start = time.time()
    pipe = agent.pipeline(transaction=False)
    while time.time() - start < seconds:
        clients = [random.randrange(buckets) for _ in range(16)]
        for client in clients:
            pipe.execute_command("RL.CHECK", "api", "1", "client", str(client))
        for client, reply in zip(clients, pipe.execute()):
            checks += 1
            if reply[0] != 1:
                refused.append((round(time.time() - start, 3), client, reply))
    print("%d checks on %d buckets in %.0f s: %d refused (%.3f %%)"
          % (checks, buckets, seconds, len(refused),
             100.0 * len(refused) / max(checks, 1)))
    for at, client, reply in refused[:10]:
        print("  at %.3f s, client %d: %s" % (at, client, reply))
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
