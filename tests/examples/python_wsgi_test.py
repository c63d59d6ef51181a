#!/usr/bin/python3
"""The WSGI example (examples/python) against a real agent and controller:
run by run_with_stack.py, which sets SLUICE_AGENT_SOCKET, SLUICE_API and
SLUICE_TOKEN. The example service is served by wsgiref on a free loopback
port in this process; requests go to it over real HTTP.
"""

import json
import os
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import redis

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import app as example  # noqa: E402

SOCKET = os.environ.get("SLUICE_AGENT_SOCKET", "")
API = os.environ.get("SLUICE_API", "")
TOKEN = os.environ.get("SLUICE_TOKEN", "")
RULE = {"name": "wsgi-per-client", "domain": "wsgi",
        "match": {"client_id": "*"}, "limit": 5, "period": "1h"}


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def eventually(what, timeout, condition):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not true after %.1f s" % (what, timeout))
        time.sleep(0.02)


def make_app(socket_path, **kwargs):
    """The example app with a timeout of seconds, not 50 ms: a loaded test
    machine must not turn checks into failures (the failure test uses a
    missing socket, which fails at once)."""
    kwargs.setdefault("timeout", 5)
    return example.make_app(socket_path, **kwargs)


class Server:
    """The example app on a free port, served by a thread."""

    def __init__(self, app):
        self.app = app
        self.httpd = make_server("127.0.0.1", 0, app,
                                 server_class=example.ThreadingWSGIServer,
                                 handler_class=Quiet)
        self.base = "http://127.0.0.1:%d" % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def get(self, path, client_id):
        request = urllib.request.Request(self.base + path,
                                         headers={"X-Client-Id": client_id})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def setUpModule():
    if not SOCKET:
        raise RuntimeError("run me with tests/examples/run_with_stack.py")
    request = urllib.request.Request(
        API + "/api/v1/rules", data=json.dumps(RULE).encode(), method="POST",
        headers={"Authorization": "Bearer " + TOKEN,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status
    r = redis.Redis(unix_socket_path=SOCKET, socket_timeout=5)
    eventually("the rule reaches the agent", 10, lambda: r.execute_command(
        "RL.CHECK", "wsgi", 0, "client_id", "probe")[1] == 5)
    r.connection_pool.disconnect()


class WsgiMiddlewareTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(make_app(SOCKET, window_seconds=3600,
                                              domain="wsgi"))

    def tearDown(self):
        self.server.stop()

    def test_admits_the_limit_then_429_with_headers(self):
        statuses = []
        for i in range(8):
            status, headers, body = self.server.get("/hello", "alice")
            statuses.append(status)
            self.assertEqual(headers["RateLimit-Policy"],
                             '"wsgi";q=5;w=3600')
            if status == 200:
                self.assertEqual(body, b"hello\n")
                self.assertEqual(headers["RateLimit"],
                                 '"wsgi";r=%d;t=%s' % (
                                     4 - i, headers["RateLimit"].split(
                                         "t=")[1]))
                self.assertIsNone(headers["Retry-After"])
            else:
                self.assertTrue(headers["RateLimit"].startswith(
                    '"wsgi";r=0;t='), headers["RateLimit"])
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
                self.assertEqual(json.loads(body)["error"],
                                 "too many requests")
        self.assertEqual(statuses, [200] * 5 + [429] * 3)
        self.assertEqual(self.server.app.counters["allowed"], 5)
        self.assertEqual(self.server.app.counters["refused"], 3)
        # Another client has its own bucket.
        self.assertEqual(self.server.get("/items/7", "bob")[0], 200)

    def test_no_rule_no_headers(self):
        app = make_app(SOCKET, domain="wsgi-unruled")
        server = Server(app)
        try:
            status, headers, _ = server.get("/hello", "carol")
            self.assertEqual(status, 200)
            self.assertIsNone(headers["RateLimit-Policy"])
        finally:
            server.stop()

    def test_agent_unreachable_fails_open_or_closed_and_counts(self):
        missing = os.path.join(os.path.dirname(SOCKET), "missing.sock")
        for fail_open, expected in ((True, 200), (False, 503)):
            server = Server(make_app(missing, fail_open=fail_open,
                                             domain="wsgi"))
            try:
                status, headers, _ = server.get("/hello", "dan")
                self.assertEqual(status, expected)
                self.assertIsNone(headers["RateLimit-Policy"])
                counter = "failed_open" if fail_open else "failed_closed"
                self.assertEqual(server.app.counters[counter], 1)
                if not fail_open:
                    self.assertEqual(headers["Retry-After"], "1")
            finally:
                server.stop()

    def test_route_mapping(self):
        app = make_app(SOCKET, domain="wsgi")
        self.assertEqual(app.route_for("/items/42"), "/items")
        self.assertEqual(app.route_for("/hello"), "/hello")
        self.assertEqual(app.descriptor_for(
            {"PATH_INFO": "/items/1", "REQUEST_METHOD": "POST",
             "HTTP_X_CLIENT_ID": "zed"}),
            [("client_id", "zed"), ("route", "/items"), ("method", "POST")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
