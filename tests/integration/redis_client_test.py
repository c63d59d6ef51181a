#!/usr/bin/python3
"""A real Redis client (Debian's python3-redis, redis-py) and redis-cli
against a real sluice-agent connected to a real sluice-controller on a
fresh PostgreSQL database.

Run by ctest (tests/integration/CMakeLists.txt) as

    /usr/bin/python3 redis_client_test.py --agent BIN --controller BIN

with SLUICE_TEST_DB set to a libpq connection string of a PostgreSQL server
on which the test may CREATE DATABASE (deploy/test.sh exports it). Without
it the test fails: it never passes without a real server.

Everything started here (the controller, the agent, the database) is
stopped or dropped at the end, also on failure; processes are killed by
PID. Every wait has a deadline.
"""

import argparse
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "support"))
try:
    import redis
except ImportError:  # pragma: no cover - a setup problem, said clearly
    sys.exit("redis_client_test: the redis module is missing: install "
             "Debian's python3-redis and run with /usr/bin/python3 "
             "(deploy/lib.sh installs it)")

CHECK_ARITY = ("wrong number of arguments for 'rl.check' command: expected "
               "RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]")

# A minute-long period: no refill during a test, so counts are exact,
# except "py-acquire" (10 per second, burst 1: a token every 100 ms).
RULES = [
    {"name": "py-client", "domain": "pyapi", "match": {"client_id": "*"},
     "limit": 5, "period": "1m"},
    {"name": "py-route", "domain": "pyapi", "match": {"route": "/search"},
     "limit": 3, "period": "1m"},
    {"name": "py-mix-enforce", "domain": "pymix",
     "match": {"client_id": "*"}, "limit": 4, "period": "1m"},
    {"name": "py-mix-shadow", "domain": "pymix", "match": {"client_id": "*"},
     "limit": 1, "period": "1m", "mode": "shadow"},
    {"name": "py-shadow-only", "domain": "pyshadow",
     "match": {"client_id": "*"}, "limit": 1, "period": "1m",
     "mode": "shadow"},
    {"name": "py-acquire", "domain": "pyacq", "match": {"client_id": "*"},
     "limit": 10, "period": "1s", "burst": 1},
    {"name": "py-slow", "domain": "pyslow", "match": {"client_id": "*"},
     "limit": 1, "period": "1h"},
]


from sluice_stack import (  # noqa: E402
    Stack, TOKEN, close_client, eventually)


STACK = None


def setUpModule():
    global STACK
    server_db = os.environ.get("SLUICE_TEST_DB", "")
    if not server_db:
        raise RuntimeError(
            "SLUICE_TEST_DB is not set: export a libpq connection string of "
            "a PostgreSQL server where the test may create databases, e.g. "
            "SLUICE_TEST_DB='host=127.0.0.1 port=55432 user=postgres "
            "dbname=postgres' (deploy/test.sh starts one and sets it)")
    STACK = Stack(ARGS.agent, ARGS.controller, server_db)
    atexit.register(STACK.stop)
    STACK.start()
    for rule in RULES:
        status, body = STACK.http("POST", "/api/v1/rules", rule)
        if status != 201:
            raise AssertionError("creating %s: HTTP %d %s"
                                 % (rule["name"], status, body))
    # Every rule reaches the agent (cost 0 peeks and takes nothing).
    r = STACK.client()
    for domain, limit in (("pyapi", 5), ("pymix", 4), ("pyacq", 10),
                          ("pyslow", 1)):
        eventually("rules of %s reach the agent" % domain, 10,
                   lambda: STACK.alive("agent") and r.execute_command(
                       "RL.CHECK", domain, 0, "client_id", "probe")[1]
                   == limit)
    eventually("route rule reaches the agent", 10,
               lambda: STACK.alive("agent") and r.execute_command(
                   "RL.CHECK", "pyapi", 0, "route", "/search")[1] == 3)
    close_client(r)


def tearDownModule():
    if STACK is not None:
        STACK.stop()


class RedisPyTest(unittest.TestCase):
    def setUp(self):
        # One connection for the whole test: "still usable" means the same
        # connection.
        self.r = STACK.client(single_connection_client=True)

    def tearDown(self):
        close_client(self.r)

    def check(self, *args):
        return self.r.execute_command("RL.CHECK", *args)

    # --- RL.CHECK semantics ---

    def test_and_across_two_rules_takes_from_all_or_none(self):
        # client "and": 5 a minute; route /search: 3 a minute. Both match.
        both = ("pyapi", 1, "client_id", "and", "route", "/search")
        self.assertEqual(self.check(*both)[:3], [1, 3, 2])
        self.assertEqual(self.check(*both)[:3], [1, 3, 1])
        self.assertEqual(self.check(*both)[:3], [1, 3, 0])
        refused = self.check(*both)
        self.assertEqual(refused[:3], [0, 3, 0])
        self.assertGreater(refused[4], 0)  # retry_after_ms
        # The refusal took nothing from the client's bucket: 2 are left.
        self.assertEqual(self.check("pyapi", 0, "client_id", "and")[:3],
                         [1, 5, 2])
        self.assertEqual(self.check("pyapi", 2, "client_id", "and")[:3],
                         [1, 5, 0])
        # Now the client rule refuses alone, and is the one reported.
        self.assertEqual(self.check("pyapi", 1, "client_id", "and")[:3],
                         [0, 5, 0])
        # Both refuse: the one with the longest wait (3 a minute) is
        # reported.
        reply = self.check(*both)
        self.assertEqual(reply[:3], [0, 3, 0])
        self.assertGreater(reply[4], 12000)

    def test_no_matching_rule_admits(self):
        self.assertEqual(self.check("nosuchdomain", 1, "client_id", "x"),
                         [1, -1, -1, 0, 0])
        self.assertEqual(self.check("pyapi", 1, "other", "x"),
                         [1, -1, -1, 0, 0])

    def test_shadow_rules_allow_and_never_show(self):
        # Only a shadow rule (limit 1) matches: always allowed, no limit.
        for _ in range(5):
            self.assertEqual(self.check("pyshadow", 1, "client_id", "s"),
                             [1, -1, -1, 0, 0])
        # Enforce (limit 4) and shadow (limit 1) together: the enforce rule
        # decides and is reported; the shadow rule refuses nothing.
        replies = [self.check("pymix", 1, "client_id", "m") for _ in range(5)]
        self.assertEqual([reply[0] for reply in replies], [1, 1, 1, 1, 0])
        self.assertEqual([reply[1] for reply in replies], [4] * 5)
        self.assertEqual([reply[2] for reply in replies], [3, 2, 1, 0, 0])

    def test_cost_zero_peeks(self):
        self.assertEqual(self.check("pyapi", 0, "client_id", "peek"),
                         [1, 5, 5, 0, 0])
        self.assertEqual(self.check("pyapi", 2, "client_id", "peek")[:3],
                         [1, 5, 3])
        first = self.check("pyapi", 0, "client_id", "peek")
        self.assertEqual(first[:3], [1, 5, 3])
        self.assertEqual(self.check("pyapi", 0, "client_id", "peek")[:3],
                         [1, 5, 3])
        self.assertEqual(first[4], 0)

    def test_cost_over_burst_never_fits(self):
        reply = self.check("pyapi", 6, "client_id", "big")
        self.assertEqual(reply[0], 0)
        self.assertEqual(reply[1], 5)
        self.assertEqual(reply[4], -1)
        # Nothing was taken.
        self.assertEqual(self.check("pyapi", 0, "client_id", "big")[:3],
                         [1, 5, 5])
        # RL.ACQUIRE does not wait for what can never come.
        started = time.monotonic()
        reply = self.r.execute_command("RL.ACQUIRE", "pyapi", 6, 2000,
                                       "client_id", "big")
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual((reply[0], reply[4]), (0, -1))

    # --- pipelining ---

    def test_pipeline_of_1000_commands_is_answered_in_order(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(1000):
            if i % 2 == 0:
                pipe.execute_command("RL.CHECK", "pyapi", 1, "client_id",
                                     "pipe")
            else:
                pipe.echo("echo-%d" % i)
        results = pipe.execute()
        self.assertEqual(len(results), 1000)
        checks = results[0::2]
        echoes = results[1::2]
        self.assertEqual(echoes,
                         [b"echo-%d" % i for i in range(1, 1000, 2)])
        # Exactly the limit is admitted, and the first five in order.
        self.assertEqual([c[0] for c in checks], [1] * 5 + [0] * 495)
        self.assertEqual([c[2] for c in checks[:5]], [4, 3, 2, 1, 0])
        self.assertTrue(self.r.ping())

    def test_transaction_pipeline_fails_clearly_and_connection_survives(self):
        # MULTI/EXEC is not part of the contract; the failure must be a
        # clear error, not a hang or a broken connection.
        pipe = self.r.pipeline(transaction=True)
        pipe.ping()
        with self.assertRaises(redis.ResponseError) as caught:
            pipe.execute()
        self.assertRegex(str(caught.exception),
                         "unknown command '(MULTI|EXEC)'")
        self.assertTrue(self.r.ping())

    # --- RL.ACQUIRE ---

    def test_acquire_waits_then_succeeds_without_blocking_others(self):
        # 10 a second, burst 1: after one check, the next token is 100 ms out.
        self.assertEqual(self.check("pyacq", 1, "client_id", "w")[0], 1)
        other = STACK.client()
        pings = []

        def ping_meanwhile():
            for _ in range(5):
                t = time.monotonic()
                other.ping()
                pings.append(time.monotonic() - t)

        started = time.monotonic()
        thread = threading.Thread(target=ping_meanwhile)
        thread.start()
        reply = self.r.execute_command("RL.ACQUIRE", "pyacq", 1, 2000,
                                       "client_id", "w")
        waited = time.monotonic() - started
        thread.join(timeout=10)
        self.assertFalse(thread.is_alive())
        self.assertEqual(reply[:3], [1, 10, 0])
        self.assertGreaterEqual(waited, 0.05)
        self.assertLess(waited, 1.5)
        self.assertEqual(len(pings), 5)
        self.assertLess(max(pings), 0.5)
        close_client(other)

    def test_acquire_gives_up_at_its_timeout(self):
        # 1 an hour: once taken, nothing comes back during the test.
        self.assertEqual(self.check("pyslow", 1, "client_id", "t")[0], 1)
        started = time.monotonic()
        reply = self.r.execute_command("RL.ACQUIRE", "pyslow", 1, 80,
                                       "client_id", "t")
        waited = time.monotonic() - started
        self.assertEqual(reply[:3], [0, 1, 0])
        self.assertGreater(reply[4], 0)
        self.assertGreaterEqual(waited, 0.07)
        self.assertLess(waited, 1.0)
        # Timeout 0 is a plain check.
        self.assertEqual(self.r.execute_command(
            "RL.ACQUIRE", "pyslow", 1, 0, "client_id", "t")[0], 0)
        self.assertTrue(self.r.ping())

    # --- errors ---

    def test_errors_are_response_errors_and_the_connection_stays_usable(self):
        cases = [
            (("RL.CHECK", "pyapi"), CHECK_ARITY),
            (("RL.CHECK", "pyapi", 1, "client_id"), CHECK_ARITY),
            (("RL.CHECK", "pyapi", 1, "client_id", "a", "route"),
             CHECK_ARITY),
            (("RL.CHECK", "pyapi", -1, "client_id", "a"),
             "invalid cost '-1' for 'rl.check': expected a non-negative "
             "integer up to 9007199254740992"),
            (("RL.CHECK", "pyapi", "lots", "client_id", "a"),
             "invalid cost 'lots' for 'rl.check': expected a non-negative "
             "integer up to 9007199254740992"),
            (("RL.CHECK", "pyapi", 1.5, "client_id", "a"),
             "invalid cost '1.5' for 'rl.check'"),
            (("RL.ACQUIRE", "pyapi", 1, "soon", "client_id", "a"),
             "invalid timeout_ms 'soon' for 'rl.acquire': expected a "
             "non-negative integer of milliseconds up to 86400000"),
            (("RL.ACQUIRE", "pyapi", 1, 100, "client_id"),
             "wrong number of arguments for 'rl.acquire' command: expected "
             "RL.ACQUIRE <domain> <cost> <timeout_ms> <key> <value>"),
            (("GET", "key"),
             "unknown command 'GET': sluice-agent answers RL.CHECK, "
             "RL.ACQUIRE, RL.INFO, PING, ECHO, QUIT, HELLO, COMMAND, "
             "CONFIG GET and CLIENT"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                with self.assertRaises(redis.ResponseError) as caught:
                    self.r.execute_command(*args)
                self.assertIn(expected, str(caught.exception))
                self.assertTrue(self.r.ping())
        # Nothing was taken by the failed checks.
        self.assertEqual(self.check("pyapi", 0, "client_id", "a")[:3],
                         [1, 5, 5])
        # Errors inside a pipeline come back in place, the rest is answered.
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command("RL.CHECK", "pyapi", -1, "client_id", "a")
        pipe.ping()
        results = pipe.execute(raise_on_error=False)
        self.assertIsInstance(results[0], redis.ResponseError)
        self.assertIs(results[1], True)

    # --- what redis-py sends for the standard commands ---

    def test_standard_commands_as_redis_py_sends_them(self):
        self.assertTrue(self.r.ping())
        self.assertEqual(self.r.echo("hello"), b"hello")
        hello = self.r.execute_command("HELLO", 2)
        fields = dict(zip(hello[0::2], hello[1::2]))
        self.assertEqual(fields[b"server"], b"sluice")
        self.assertEqual(fields[b"proto"], 2)
        with self.assertRaises(redis.ResponseError) as caught:
            self.r.execute_command("HELLO", 3)
        self.assertIn("RESP2 only", str(caught.exception))
        self.assertEqual(self.r.command_count(), 0)
        self.assertEqual(self.r.command(), {})
        self.assertEqual(self.r.config_get("save"), {"save": ""})
        self.assertEqual(self.r.config_get("appendonly"),
                         {"appendonly": "no"})
        self.assertEqual(self.r.config_get("maxmemory"), {})
        self.assertTrue(self.r.client_setname("redis-py-test"))
        self.assertIsInstance(self.r.client_id(), int)
        info = self.r.execute_command("RL.INFO").decode()
        self.assertIn("controller_reachable:1", info)
        self.assertIn("rules:%d" % len(RULES), info)
        self.assertRegex(info, r"rules_version:[1-9]")
        self.assertRegex(info, r"buckets:[1-9]")

    def test_client_name_on_connect(self):
        # redis-py sends CLIENT SETNAME as it connects.
        named = STACK.client(client_name="sluice-test")
        self.assertTrue(named.ping())
        close_client(named)

    def test_quit(self):
        self.assertTrue(self.r.execute_command("QUIT"))
        # The next client connects and is answered.
        fresh = STACK.client()
        self.assertTrue(fresh.ping())
        close_client(fresh)


class RedisCliTest(unittest.TestCase):
    def cli(self, *args):
        out = subprocess.run(
            ["redis-cli", "-s", STACK.socket_path] + [str(a) for a in args],
            capture_output=True, timeout=10, check=True)
        return out.stdout.decode()

    def test_redis_cli_smoke(self):
        if shutil.which("redis-cli") is None:
            self.fail("redis-cli not found: install Debian's redis-tools")
        self.assertEqual(self.cli("PING"), "PONG\n")
        info = self.cli("RL.INFO")
        self.assertIn("rules_version:", info)
        self.assertIn("controller_reachable:1", info)
        self.assertEqual(self.cli("RL.CHECK", "pyapi", 0, "client_id", "cli"),
                         "1\n5\n5\n0\n0\n")
        self.assertIn("ERR wrong number of arguments for 'rl.check'",
                      self.cli("RL.CHECK", "pyapi", 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default=os.environ.get("SLUICE_AGENT_BIN"),
                        help="the sluice-agent binary")
    parser.add_argument("--controller",
                        default=os.environ.get("SLUICE_CONTROLLER_BIN"),
                        help="the sluice-controller binary")
    ARGS, rest = parser.parse_known_args()
    if not ARGS.agent or not ARGS.controller:
        parser.error("give --agent and --controller (or SLUICE_AGENT_BIN "
                     "and SLUICE_CONTROLLER_BIN)")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
