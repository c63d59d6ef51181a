#!/usr/bin/python3
"""Runs a command against a real stack: a fresh PostgreSQL database, a real
sluice-controller and a real sluice-agent (tests/support/sluice_stack.py).

    /usr/bin/python3 run_with_stack.py --agent BIN --controller BIN \\
        [--name NAME] -- COMMAND [ARGS...]

COMMAND runs with SLUICE_AGENT_SOCKET (the agent's Unix socket), SLUICE_API
(the controller's base URL), SLUICE_TOKEN (an admin token) and SLUICE_DB
(the libpq connection string of the stack's database) in its environment,
and, for a test that starts another controller on the same database,
SLUICE_CONTROLLER_BIN and SLUICE_STACK_DB (the same as SLUICE_DB); the exit
status is COMMAND's (1 if the stack did not start).
SLUICE_TEST_DB must name a server where databases may be created. The
stack is stopped by PID and its database dropped afterwards, also on
failure; COMMAND is killed if it runs past --timeout seconds.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "support"))
from sluice_stack import TOKEN, Stack  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--controller", required=True)
    parser.add_argument("--name", default="example")
    parser.add_argument("--timeout", type=float, default=100)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND after --")
    server_db = os.environ.get("SLUICE_TEST_DB", "")
    if not server_db:
        sys.exit("SLUICE_TEST_DB is not set: export a libpq connection string "
                 "of a PostgreSQL server where the test may create databases "
                 "(deploy/test.sh starts one and sets it)")
    stack = Stack(args.agent, args.controller, server_db, name=args.name)
    try:
        stack.start()
        env = dict(os.environ, SLUICE_AGENT_SOCKET=stack.socket_path,
                   SLUICE_API="http://127.0.0.1:%d" % stack.http_port,
                   SLUICE_TOKEN=TOKEN,
                   SLUICE_CONTROLLER_BIN=os.path.abspath(args.controller),
                   SLUICE_STACK_DB=stack.db_conninfo(),
                   SLUICE_DB=stack.db_conninfo())
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            print("run_with_stack: %s ran past %.0f s and was killed"
                  % (command, args.timeout), file=sys.stderr)
            return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
