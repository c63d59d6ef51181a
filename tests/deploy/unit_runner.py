"""Runs a daemon the way its systemd unit would, without systemd as PID 1.

Reads the unit file's [Service] section (User, Group, EnvironmentFile,
Environment, ExecStart, RuntimeDirectory, RuntimeDirectoryMode, UMask,
Type) and starts ExecStart with exactly that environment, as that user
(runuser), in /, with the runtime directory made as systemd makes it and a
NOTIFY_SOCKET on which the daemon reports READY=1 (Type=notify). The
sandboxing directives are checked by `systemd-analyze verify`, not applied.

Used by package_test.py; the caller stops the process group it returns.
"""

import grp
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import time


def parse_unit(path):
    """The [Service] section as {key: [values]} (keys may repeat)."""
    section = None
    service = {}
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section != "Service" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            service.setdefault(key.strip(), []).append(value.strip())
    return service


def parse_environment_file(path):
    """KEY=VALUE lines as systemd reads them (comments, optional quotes)."""
    env = {}
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if "=" not in line:
                raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def one(service, key, default=None):
    values = service.get(key)
    return values[-1] if values else default


class UnitProcess:
    """One daemon started from its unit; stop() ends its process group."""

    def __init__(self, unit_path, work_dir, log_path):
        self.unit_path = unit_path
        self.service = parse_unit(unit_path)
        self.work_dir = work_dir
        self.log_path = log_path
        self.proc = None
        self.notify = None
        self.runtime_dir = None

    def environment(self):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        for value in self.service.get("Environment", []):
            for item in shlex.split(value):
                key, _, val = item.partition("=")
                env[key] = val
        for path in self.service.get("EnvironmentFile", []):
            optional = path.startswith("-")
            path = path.lstrip("-")
            if optional and not os.path.exists(path):
                continue
            env.update(parse_environment_file(path))
        return env

    def start(self):
        user = one(self.service, "User", "root")
        group = one(self.service, "Group", pwd.getpwnam(user).pw_name)
        uid = pwd.getpwnam(user).pw_uid
        gid = grp.getgrnam(group).gr_gid
        runtime = one(self.service, "RuntimeDirectory")
        if runtime:
            self.runtime_dir = os.path.join("/run", runtime)
            if os.path.exists(self.runtime_dir):
                raise RuntimeError(f"{self.runtime_dir} exists already; "
                                   "is the daemon running on this machine?")
            os.mkdir(self.runtime_dir)
            os.chown(self.runtime_dir, uid, gid)
            os.chmod(self.runtime_dir,
                     int(one(self.service, "RuntimeDirectoryMode", "0755"), 8))
        env = self.environment()
        if one(self.service, "Type") == "notify":
            path = os.path.join(self.work_dir,
                                os.path.basename(self.unit_path) + ".notify")
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(path)
            os.chmod(path, 0o777)  # the daemon runs as another user
            env["NOTIFY_SOCKET"] = path
        command = shlex.split(one(self.service, "ExecStart"))
        umask = int(one(self.service, "UMask", "0022"), 8)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["runuser", "-u", user, "-g", group, "--"] + command,
            env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: os.umask(umask))
        log.close()
        return self

    def wait_ready(self, timeout):
        """Waits for READY=1 on NOTIFY_SOCKET; raises on exit or timeout."""
        deadline = time.monotonic() + timeout
        self.notify.settimeout(0.2)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.unit_path}: the daemon exited "
                                   f"({self.proc.returncode}) before READY=1")
            try:
                message = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            if "READY=1" in message.split("\n"):
                return
        raise RuntimeError(f"{self.unit_path}: no READY=1 within {timeout} s")

    def stop(self):
        """SIGTERM to the process group, SIGKILL after 10 s; returns the
        exit status (None if it was never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.notify is not None:
            self.notify.close()
        if self.runtime_dir:  # systemd removes it after the stop
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        return self.proc.returncode
