#!/usr/bin/python3
"""sluice_authz: answers nginx `auth_request` subrequests from the local
Sluice agent, for docs/per-client-limits.md.

nginx authenticates the caller and passes who it is in X-Client-Id (and the
route in X-Route); this asks the agent
    RL.CHECK <domain> 1 client_id <X-Client-Id> route <X-Route>
and answers 204 (go ahead) or 403 (limited: nginx turns it into 429), with
RateLimit-Limit, RateLimit-Remaining and, when limited, Retry-After. No
X-Client-Id is 401: the caller was not authenticated.

Needs python3-redis (Debian) or `pip install redis`. Settings from the
environment: SLUICE_SOCKET (default var/agent.sock), SLUICE_DOMAIN (shop),
SLUICE_AUTHZ_LISTEN (127.0.0.1:8081).
"""
import math
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

SOCKET = os.environ.get("SLUICE_SOCKET", "var/agent.sock")
DOMAIN = os.environ.get("SLUICE_DOMAIN", "shop")
HOST, PORT = os.environ.get("SLUICE_AUTHZ_LISTEN", "127.0.0.1:8081").rsplit(":", 1)

# One connection pool shared by the handler threads.
AGENT = redis.Redis(unix_socket_path=SOCKET, socket_timeout=1)


class Check(BaseHTTPRequestHandler):
    def do_GET(self):
        client = self.headers.get("X-Client-Id", "")
        route = self.headers.get("X-Route", "/")
        if not client:
            self.reply(401)
            return
        try:
            allowed, limit, remaining, _reset_ms, retry_ms = AGENT.execute_command(
                "RL.CHECK", DOMAIN, 1, "client_id", client, "route", route)
        except redis.RedisError as e:
            # The agent is down or refused the check: fail open here (or
            # answer 500 to fail closed); say so in nginx's error log.
            sys.stderr.write("sluice_authz: RL.CHECK failed: %s\n" % e)
            self.reply(204)
            return
        headers = {}
        if limit >= 0:
            headers["RateLimit-Limit"] = str(limit)
            headers["RateLimit-Remaining"] = str(max(remaining, 0))
        if not allowed:
            # retry_ms is -1 when the cost can never be met.
            headers["Retry-After"] = str(max(1, math.ceil(retry_ms / 1000)) if retry_ms >= 0 else 3600)
        self.reply(204 if allowed else 403, headers)

    def reply(self, status, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass  # one line per request is nginx's job


if __name__ == "__main__":
    ThreadingHTTPServer((HOST, int(PORT)), Check).serve_forever()
