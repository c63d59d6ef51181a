"""WSGI middleware that rate-limits every request with a Sluice agent.

    from sluice_wsgi import SluiceRateLimit
    app = SluiceRateLimit(app, "/run/sluice/agent.sock", domain="http",
                          routes=[("/users/*", "/users")])

Each request is checked with `RL.CHECK <domain> <cost> <key> <value> ...`
(redis-py, Debian's python3-redis) against a descriptor built from it:

    client_id_key  the X-Client-Id header (client_id_header), or
                   `anonymous` when absent (left out when that is empty)
    route_key      the path mapped by `routes` ((pattern, route) pairs, first
                   match; a pattern ending in '*' is a prefix), else the path
    method_key     the HTTP method

(an empty key name leaves that key out), or by `descriptor(environ)` when
given. Refused: 429 with the IETF httpapi draft's RateLimit-Policy and
RateLimit fields and Retry-After. Admitted: the wrapped application's
response, with RateLimit-Policy and RateLimit added when a rule matched.

When the agent cannot answer (no socket, timeout, a reply that is not five
integers, an -ERR), `fail_open` decides: True passes the request on without
RateLimit fields, False answers 503 with Retry-After: 1. Every outcome is
counted in `counters` (allowed, refused, failed_open, failed_closed).

Thread-safe: redis-py's connection pool serves concurrent requests, and the
counters are kept under a lock.
"""

import threading

import redis


def ceil_seconds(ms):
    return 0 if ms <= 0 else (ms + 999) // 1000


def quoted(name):
    """A Structured Field string: printable ASCII, '"' and '\\' escaped."""
    out = []
    for c in name:
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append("_")
    return '"' + "".join(out) + '"'


def rate_limit_headers(reply, policy_name, window_seconds=0):
    """The header fields of an RL.CHECK reply [allowed, limit, remaining,
    reset_after_ms, retry_after_ms], as a list of (name, value): none when no
    rule matched; Retry-After (at least 1) only on a refusal that can pass
    later (retry_after_ms -1 means never)."""
    allowed, limit, remaining, reset_ms, retry_ms = reply
    if limit < 0:
        return []
    name = quoted(policy_name)
    policy = "%s;q=%d" % (name, limit)
    if window_seconds > 0:
        policy += ";w=%d" % window_seconds
    headers = [("RateLimit-Policy", policy),
               ("RateLimit", "%s;r=%d;t=%d" % (name, max(remaining, 0),
                                               ceil_seconds(reset_ms)))]
    if not allowed and retry_ms >= 0:
        headers.append(("Retry-After", str(max(1, ceil_seconds(retry_ms)))))
    return headers


class SluiceRateLimit:
    """The middleware (see the module's documentation)."""

    def __init__(self, app, socket_path, domain="http", cost=1,
                 client_id_header="X-Client-Id", client_id_key="client_id",
                 anonymous_client_id="anonymous", route_key="route",
                 routes=(), method_key="method", descriptor=None,
                 policy_name=None, window_seconds=0, fail_open=True,
                 timeout=0.05, connect_timeout=0.1):
        self.app = app
        self.domain = domain
        self.cost = cost
        self.client_id_environ = (
            "HTTP_" + client_id_header.upper().replace("-", "_"))
        self.client_id_key = client_id_key
        self.anonymous_client_id = anonymous_client_id
        self.route_key = route_key
        self.routes = list(routes)
        self.method_key = method_key
        self.descriptor = descriptor
        self.policy_name = policy_name or domain
        self.window_seconds = window_seconds
        self.fail_open = fail_open
        self.redis = redis.Redis(unix_socket_path=socket_path,
                                 socket_timeout=timeout,
                                 socket_connect_timeout=connect_timeout)
        self.counters = {"allowed": 0, "refused": 0, "failed_open": 0,
                         "failed_closed": 0}
        self._lock = threading.Lock()

    def route_for(self, path):
        for pattern, route in self.routes:
            if pattern.endswith("*"):
                if path.startswith(pattern[:-1]):
                    return route
            elif path == pattern:
                return route
        return path

    def descriptor_for(self, environ):
        if self.descriptor is not None:
            return list(self.descriptor(environ))
        pairs = []
        if self.client_id_key:
            client = environ.get(self.client_id_environ) or \
                self.anonymous_client_id
            if client:
                pairs.append((self.client_id_key, client))
        if self.route_key:
            pairs.append((self.route_key,
                          self.route_for(environ.get("PATH_INFO") or "/")))
        if self.method_key:
            pairs.append((self.method_key,
                          environ.get("REQUEST_METHOD", "GET")))
        return pairs

    def check(self, pairs):
        """The agent's reply as five ints, or None when it cannot answer."""
        args = [self.domain, self.cost]
        for key, value in pairs:
            args += [key, value]
        try:
            reply = self.redis.execute_command("RL.CHECK", *args)
        except redis.RedisError:  # unreachable, timed out, or -ERR
            return None
        if (not isinstance(reply, list) or len(reply) != 5
                or not all(isinstance(v, int) for v in reply)):
            return None
        return reply

    def _count(self, name):
        with self._lock:
            self.counters[name] += 1

    def __call__(self, environ, start_response):
        pairs = self.descriptor_for(environ)
        if not pairs:
            return self.app(environ, start_response)
        reply = self.check(pairs)
        if reply is None:
            if self.fail_open:
                self._count("failed_open")
                return self.app(environ, start_response)
            self._count("failed_closed")
            start_response("503 Service Unavailable", [
                ("Content-Type", "application/json"), ("Retry-After", "1")])
            return [b'{"error":"rate limiter unavailable"}']
        headers = rate_limit_headers(reply, self.policy_name,
                                     self.window_seconds)
        if reply[0] != 1:
            self._count("refused")
            start_response("429 Too Many Requests", [
                ("Content-Type", "application/json")] + headers)
            return [b'{"error":"too many requests","retry_after_ms":%d}'
                    % reply[4]]
        self._count("allowed")

        def start_with_headers(status, response_headers, exc_info=None):
            return start_response(status, list(response_headers) + headers,
                                  exc_info)
        return self.app(environ, start_with_headers)
