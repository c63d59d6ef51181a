#!/usr/bin/python3
"""The Debian packages, end to end on this machine.

Builds sluice-controller and sluice-agent with cpack from an already built
tree, installs them with dpkg -i, checks what they installed (user, settings,
units: `systemd-analyze verify`), runs each daemon the way its unit does
(unit_runner.py: the unit's user, environment file and ExecStart, READY=1 on
NOTIFY_SOCKET), creates a rule through the API and checks decisions over
the agent's socket, scrapes both daemons' metrics, then purges both packages
and checks that nothing is left: no file, no user, no group.

    package_test.py --build-dir BUILD      (as root; PostgreSQL in
                                            SLUICE_TEST_DB)

Runs under a lock (/run/lock/sluice-package-test.lock): two runs on one
machine would install over each other. Refuses to run where Sluice packages
or a user sluice exist already. Bounded: every wait has a deadline, and the
daemons it started are stopped by process group, also on failure.
"""

import argparse
import fcntl
import glob
import grp
import json
import os
import pwd
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unit_runner  # noqa: E402

PACKAGES = ["sluice-controller", "sluice-agent"]
UNIT_DIR = "/usr/lib/systemd/system"
CONF_DIR = "/etc/sluice"
SOCKET = "/run/sluice/agent.sock"
LOCK = "/run/lock/sluice-package-test.lock"


def log(message):
    print(f"package_test: {message}", flush=True)


def run(command, timeout=120, check=True, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):"
                           f"\n{result.stdout}{result.stderr}")
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def package_status(name):
    result = run(["dpkg-query", "-W", "-f=${db:Status-Status}", name],
                 check=False)
    return result.stdout.strip() if result.returncode == 0 else "not-installed"


def dpkg(args):
    """dpkg, waiting for the dpkg lock others may hold (up to 2 min)."""
    deadline = time.monotonic() + 120
    while True:
        result = run(["dpkg"] + args, check=False, timeout=300)
        if result.returncode == 0:
            return result
        locked = "lock" in result.stderr and "held" in result.stderr
        if not locked or time.monotonic() > deadline:
            raise RuntimeError(f"dpkg {' '.join(args)} failed:\n"
                               f"{result.stdout}{result.stderr}")
        time.sleep(2)


def set_env_line(path, key, value):
    """Sets KEY=VALUE in an environment file, as an administrator would:
    replaces the line (commented or not), or appends it."""
    with open(path) as f:
        lines = f.read().split("\n")
    pattern = re.compile(rf"^#?{re.escape(key)}=")
    for i, line in enumerate(lines):
        if pattern.match(line):
            lines[i] = f"{key}={value}"
            break
    else:
        lines.append(f"{key}={value}")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def resp_command(sock, *args):
    """One RESP command; returns the parsed reply (ints, lists, strings)."""
    out = f"*{len(args)}\r\n"
    for arg in args:
        arg = str(arg)
        out += f"${len(arg.encode())}\r\n{arg}\r\n"
    sock.sendall(out.encode())
    reader = sock.makefile("rb")
    return read_resp(reader)


def read_resp(reader):
    line = reader.readline().decode().rstrip("\r\n")
    kind, rest = line[0], line[1:]
    if kind == ":":
        return int(rest)
    if kind == "+":
        return rest
    if kind == "-":
        raise RuntimeError(f"RESP error: {rest}")
    if kind == "$":
        n = int(rest)
        return None if n < 0 else reader.read(n + 2)[:-2].decode()
    if kind == "*":
        return [read_resp(reader) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected RESP line {line!r}")


def http(method, url, token=None, body=None):
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(what, seconds, condition):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, RuntimeError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {seconds} s waiting for {what}")


class PackageTest:
    def __init__(self, build_dir, db):
        self.build_dir = build_dir
        self.db = db
        self.work = tempfile.mkdtemp(prefix="sluice-package-test.")
        os.chmod(self.work, 0o755)  # the daemons' user reaches the notify socket
        self.daemons = []
        self.installed = False
        self.database = f"sluice_pkg_{os.getpid()}"
        self.files = []

    # --- steps ------------------------------------------------------------
    def preflight(self):
        for name in PACKAGES:
            if package_status(name) != "not-installed":
                raise RuntimeError(
                    f"{name} is installed on this machine ({package_status(name)});"
                    " this test installs and purges its own packages: "
                    f"dpkg --purge {' '.join(PACKAGES)} first")
        for check, name in ((pwd.getpwnam, "user"), (grp.getgrnam, "group")):
            try:
                check("sluice")
            except KeyError:
                continue
            raise RuntimeError(f"a {name} 'sluice' exists without the packages;"
                               " the test would remove it at the purge")
        if os.path.exists("/run/sluice"):
            raise RuntimeError("/run/sluice exists: is an agent running here?")

    def build_packages(self):
        log("cpack -G DEB")
        started = time.monotonic()
        run(["cpack", "-G", "DEB", "-B", os.path.join(self.work, "packages")],
            cwd=self.build_dir, timeout=300)
        debs = sorted(glob.glob(os.path.join(self.work, "packages", "*.deb")))
        names = sorted(os.path.basename(d).split("_")[0] for d in debs)
        assert names == sorted(PACKAGES), f"cpack made {debs}"
        for deb in debs:
            fields = run(["dpkg-deb", "-f", deb, "Package", "Depends"]).stdout
            # shlibdeps found the libraries the daemon links.
            for library in ("libzmq5", "libprometheus-cpp-pull", "libc6"):
                assert library in fields, f"{deb}: Depends lacks {library}:\n{fields}"
            if "controller" in deb:
                for library in ("libpqxx", "libcpprest"):
                    assert library in fields, f"{deb}: Depends lacks {library}"
            assert "adduser" in fields, f"{deb}: Depends lacks adduser"
        log(f"built {len(debs)} packages in {time.monotonic() - started:.1f} s")
        return debs

    def install(self, debs):
        log("dpkg -i")
        self.installed = True
        dpkg(["-i"] + debs)
        for name in PACKAGES:
            assert package_status(name) == "installed", name
            self.files += [f for f in run(["dpkg", "-L", name]).stdout.split("\n")
                           if f]
        user = pwd.getpwnam("sluice")
        assert user.pw_uid < 1000, f"sluice is not a system user: {user}"
        assert user.pw_shell.endswith("nologin"), user
        assert grp.getgrgid(user.pw_gid).gr_name == "sluice"
        for name in ("controller.env", "agent.env"):
            info = os.stat(os.path.join(CONF_DIR, name))
            assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0, \
                f"{name}: mode {oct(info.st_mode)} uid {info.st_uid}"
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}\n"] + PACKAGES).stdout
        for name in ("controller.env", "agent.env"):
            assert f"{CONF_DIR}/{name}" in conffiles, conffiles
        migrations = sorted(os.listdir("/usr/share/sluice/migrations"))
        assert migrations and all(m.endswith(".sql") for m in migrations)
        assert os.path.exists("/usr/share/doc/sluice/README.md")

    def verify_units(self):
        units = [f"{UNIT_DIR}/{name}.service" for name in PACKAGES]
        result = run(["systemd-analyze", "verify"] + units, check=False)
        output = (result.stdout + result.stderr).strip()
        # verify exits 0 on unknown keys and unparsable values: any output
        # about our units is a defect.
        if result.returncode != 0 or "sluice" in output:
            raise RuntimeError(f"systemd-analyze verify:\n{output}")
        for unit in units:
            service = unit_runner.parse_unit(unit)
            for key, value in (("ProtectSystem", "strict"),
                               ("NoNewPrivileges", "yes"),
                               ("PrivateTmp", "yes"), ("Type", "notify"),
                               ("Restart", "on-failure"), ("User", "sluice")):
                assert unit_runner.one(service, key) == value, (unit, key)
        agent = unit_runner.parse_unit(units[1])
        assert unit_runner.one(agent, "RuntimeDirectory") == "sluice"

    def configure(self):
        self.ports = {name: free_port() for name in
                      ("http", "agents", "ctl_metrics", "agent_metrics")}
        self.token = "package-test-" + os.urandom(8).hex()
        run(["psql", self.db, "-qc", f"CREATE DATABASE {self.database}"])
        db = re.sub(r"dbname=\S+", "", self.db).strip() + f" dbname={self.database}"
        controller = os.path.join(CONF_DIR, "controller.env")
        set_env_line(controller, "SLUICE_DB", db)
        set_env_line(controller, "SLUICE_HTTP", f"127.0.0.1:{self.ports['http']}")
        set_env_line(controller, "SLUICE_AGENTS",
                     f"tcp://127.0.0.1:{self.ports['agents']}")
        set_env_line(controller, "SLUICE_METRICS",
                     f"127.0.0.1:{self.ports['ctl_metrics']}")
        set_env_line(controller, "SLUICE_ADMIN_TOKEN", self.token)
        agent = os.path.join(CONF_DIR, "agent.env")
        set_env_line(agent, "SLUICE_CONTROLLER",
                     f"tcp://127.0.0.1:{self.ports['agents']}")
        set_env_line(agent, "SLUICE_METRICS",
                     f"127.0.0.1:{self.ports['agent_metrics']}")
        set_env_line(agent, "SLUICE_AGENT_ID", "package-test")

    def start_daemons(self):
        for name in PACKAGES:
            log(f"starting {name} as its unit does")
            daemon = unit_runner.UnitProcess(
                f"{UNIT_DIR}/{name}.service", self.work,
                os.path.join(self.work, f"{name}.log"))
            self.daemons.append(daemon)
            daemon.start()
            try:
                daemon.wait_ready(60)
            except RuntimeError:
                raise RuntimeError(self.log_tail(name))
        info = os.stat("/run/sluice")
        assert stat.S_IMODE(info.st_mode) == 0o750, oct(info.st_mode)
        assert info.st_uid == pwd.getpwnam("sluice").pw_uid
        assert info.st_gid == grp.getgrnam("sluice").gr_gid
        sock = os.stat(SOCKET)
        assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o660
        assert sock.st_gid == grp.getgrnam("sluice").gr_gid

    def end_to_end(self):
        base = f"http://127.0.0.1:{self.ports['http']}"
        assert http("GET", base + "/readyz")[0] == 200
        # The controller found the installed migrations by itself.
        applied = run(["psql", re.sub(r"dbname=\S+", "", self.db) +
                       f" dbname={self.database}", "-tAc",
                       "SELECT count(*) FROM schema_migrations"]).stdout.strip()
        assert int(applied) == len(os.listdir("/usr/share/sluice/migrations")), applied
        status, body = http("POST", base + "/api/v1/rules", self.token,
                            {"name": "package-test", "domain": "pkg",
                             "match": {"user": "*"}, "limit": 3,
                             "period": "1m"})
        assert status == 201, f"{status} {body}"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(SOCKET)
            assert resp_command(sock, "PING") == "PONG"
            wait_until("the rule at the agent", 10,
                       lambda: resp_command(sock, "RL.CHECK", "pkg", 0, "user",
                                            "probe")[1] == 3)
            replies = [resp_command(sock, "RL.CHECK", "pkg", 1, "user", "alice")
                       for _ in range(4)]
        assert [r[0] for r in replies] == [1, 1, 1, 0], replies
        assert replies[3][4] > 0, replies  # retry_after_ms when refused
        # Only the group sluice reaches the socket.
        denied = run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
                      "import socket; s = socket.socket(socket.AF_UNIX); "
                      f"s.connect('{SOCKET}')"], check=False)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, \
            denied.stderr
        log("rule and decisions end to end: ok")

    def scrape(self):
        """Saves both daemons' /metrics for the metric-name check."""
        text = ""
        for port in (self.ports["ctl_metrics"], self.ports["agent_metrics"]):
            wait_until("metrics", 10, lambda: http(
                "GET", f"http://127.0.0.1:{port}/metrics")[0] == 200)
            text += http("GET", f"http://127.0.0.1:{port}/metrics")[1]
        # Decisions reach the agent's counters every 100 ms.
        wait_until("decision counters", 5, lambda: "sluice_agent_decisions_total{"
                   in http("GET", f"http://127.0.0.1:{self.ports['agent_metrics']}"
                           "/metrics")[1])
        text += http("GET",
                     f"http://127.0.0.1:{self.ports['agent_metrics']}/metrics")[1]
        path = os.path.join(self.work, "scrape.txt")
        with open(path, "w") as f:
            f.write(text)
        checker = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "metric_names_test.py")
        run(["/usr/bin/python3", checker, "--scrape", path])
        log("every metric the dashboard and the alerts use is in the scrape")

    def keygen(self):
        key = os.path.join(CONF_DIR, "agent.key")
        run(["/usr/bin/sluice-agent", "keygen", "--out", key])
        info = os.stat(key)
        assert stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)

    def stop_daemons(self):
        for daemon in reversed(self.daemons):
            code = daemon.stop()
            if code not in (0, None, -15):
                log(f"{daemon.unit_path} exited with {code}")
        self.daemons = []

    def purge(self):
        log("dpkg --purge")
        dpkg(["--purge"] + PACKAGES)
        self.installed = False
        for name in PACKAGES:
            assert package_status(name) == "not-installed", package_status(name)
        left = [f for f in self.files
                if os.path.lexists(f) and not os.path.isdir(f)]
        for directory in (CONF_DIR, "/usr/share/sluice", "/usr/share/doc/sluice",
                          "/run/sluice"):
            if os.path.lexists(directory):
                left.append(directory)
        assert not left, f"left behind after the purge: {left}"
        for lookup in (pwd.getpwnam, grp.getgrnam):
            try:
                lookup("sluice")
            except KeyError:
                continue
            raise AssertionError("the user or group sluice is left after the purge")
        log("purged: no file, user or group left")

    # --- plumbing -----------------------------------------------------------
    def log_tail(self, name):
        try:
            with open(os.path.join(self.work, f"{name}.log")) as f:
                return f"{name} log:\n" + f.read()[-3000:]
        except OSError:
            return f"{name}: no log"

    def cleanup(self):
        self.stop_daemons()
        if self.installed:
            for name in PACKAGES:
                log(self.log_tail(name))
            run(["dpkg", "--purge"] + PACKAGES, check=False)
        run(["psql", self.db, "-qc",
             f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)"], check=False)
        run(["rm", "-rf", self.work], check=False)

    def run(self):
        self.preflight()
        debs = self.build_packages()
        self.install(debs)
        self.verify_units()
        self.configure()
        self.start_daemons()
        self.end_to_end()
        self.scrape()
        self.keygen()
        self.stop_daemons()
        self.purge()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("package_test: skipped: needs root (dpkg -i, a system user); "
              "run deploy/test.sh as root", file=sys.stderr)
        return 77
    with open(os.path.join(args.build_dir, "CMakeCache.txt")) as f:
        prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M)
    if not prefix or prefix.group(1) != "/usr":
        print(f"package_test: {args.build_dir} is configured for the prefix "
              f"{prefix.group(1) if prefix else '?'}; Debian packages need "
              "-DCMAKE_INSTALL_PREFIX=/usr (deploy/test.sh passes it)",
              file=sys.stderr)
        return 1
    db = os.environ.get("SLUICE_TEST_DB")
    if not db:
        print("package_test: SLUICE_TEST_DB is not set (deploy/test.sh sets it)",
              file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    with open(LOCK, "w") as lock:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    print("package_test: another run holds " + LOCK,
                          file=sys.stderr)
                    return 1
                time.sleep(1)
        test = PackageTest(os.path.abspath(args.build_dir), db)
        started = time.monotonic()
        try:
            test.run()
        except Exception:  # report, clean up, fail
            traceback.print_exc()
            test.cleanup()
            return 1
        test.cleanup()
        log(f"passed in {time.monotonic() - started:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
