"""Stack: a fresh PostgreSQL database, a real sluice-controller and a real
sluice-agent, for Python tests (and the tests they run). Everything it
starts is stopped by PID, and the database dropped, by stop(); every wait
has a deadline.

Needs Debian's python3-redis (run with /usr/bin/python3) and SLUICE_TEST_DB,
a libpq connection string of a server where the test may CREATE DATABASE.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import redis

TOKEN = "python-stack-test-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def close_client(client):
    """Closes every connection of a redis-py client (close() alone only
    returns a single-connection client's connection to its pool)."""
    client.close()
    client.connection_pool.disconnect()


class ProcessDied(AssertionError):
    """A process of the stack exited: waiting longer cannot help."""


def eventually(what, timeout, condition, interval=0.01):
    """Polls condition() until it is true; fails with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            if condition():
                return
        except ProcessDied:
            raise
        except Exception as e:  # noqa: BLE001 - remembered, reported below
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                "%s: not true after %.1f s (last error: %r)"
                % (what, timeout, last_error))
        time.sleep(interval)


class Stack:
    """A database, a controller and an agent; stop() undoes everything."""

    def __init__(self, agent_bin, controller_bin, server_db,
                 name="redis-py"):
        self.name = name
        self.agent_bin = agent_bin
        self.controller_bin = controller_bin
        self.server_db = server_db
        self.dir = tempfile.mkdtemp(prefix="sluice-%s-" % name)
        self.socket_path = os.path.join(self.dir, "agent.sock")
        self.db_name = "sluice_%s_%d_%d" % (
            name.replace("-", "_"), os.getpid(), int(time.time()))
        self.http_port = free_port()
        self.agents_port = free_port()
        self.processes = {}
        self.db_created = False

    def psql(self, sql):
        subprocess.run(["psql", self.server_db, "-v", "ON_ERROR_STOP=1",
                        "-q", "-c", sql], check=True, timeout=30,
                       stdout=subprocess.DEVNULL)

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})))
        log.close()

    def log_tail(self, name, lines=30):
        try:
            with open(os.path.join(self.dir, name + ".log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            return "\n".join(text.splitlines()[-lines:])
        except OSError as e:
            return "(no log: %s)" % e

    def db_conninfo(self):
        """The libpq connection string of the stack's database."""
        return self.server_db + " dbname=" + self.db_name

    def start(self):
        self.psql('CREATE DATABASE "%s"' % self.db_name)
        self.db_created = True
        self.spawn("controller", [
            self.controller_bin, "--db", self.db_conninfo(), "--http", "127.0.0.1:%d" % self.http_port,
            "--agents", "tcp://127.0.0.1:%d" % self.agents_port],
            env={"SLUICE_ADMIN_TOKEN": TOKEN})
        try:
            eventually("controller ready", 30,
                       lambda: self.alive("controller")
                       and self.http("GET", "/readyz")[0] == 200,
                       interval=0.05)
        except AssertionError:
            raise AssertionError("controller not ready:\n" +
                                 self.log_tail("controller"))
        self.spawn("agent", [
            self.agent_bin, "--controller",
            "tcp://127.0.0.1:%d" % self.agents_port, "--socket",
            self.socket_path, "--agent-id", self.name + "-agent"])
        probe = self.client()
        try:
            # A plain socket first: redis-py 4.3 leaks the socket of a
            # failed connect.
            eventually("agent accepts connections", 15,
                       lambda: self.alive("agent") and self.accepts(),
                       interval=0.05)
            eventually("agent answers PING", 5,
                       lambda: self.alive("agent") and probe.ping())
        except AssertionError:
            raise AssertionError("agent not up:\n" + self.log_tail("agent"))
        finally:
            close_client(probe)

    def accepts(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(self.socket_path)
            return True

    def alive(self, name):
        process = self.processes[name]
        if process.poll() is not None:
            raise ProcessDied("%s exited with %s:\n%s" % (
                name, process.returncode, self.log_tail(name)))
        return True

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 5)
        kwargs.setdefault("socket_connect_timeout", 5)
        return redis.Redis(unix_socket_path=self.socket_path, **kwargs)

    def http(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.http_port, path), data=data,
            method=method, headers={"Authorization": "Bearer " + TOKEN,
                                    "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self):
        for name in ("agent", "controller"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            os.kill(process.pid, 15)  # SIGTERM, by PID
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                process.wait(timeout=10)
        if self.db_created:
            self.db_created = False
            try:
                self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                          % self.db_name)
            except (subprocess.SubprocessError, OSError) as e:
                print("could not drop database %s: %s" % (self.db_name, e),
                      file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

