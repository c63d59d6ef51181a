#!/usr/bin/python3
"""A small WSGI service behind the Sluice middleware (sluice_wsgi.py),
served by wsgiref:

    /usr/bin/python3 examples/python/app.py --agent var/agent.sock \\
        [--listen 127.0.0.1:8091] [--fail-closed] [--window SECONDS]

Routes: GET /hello, GET /items/<id> (one route, "/items"). Requests are
checked in domain "http" with client_id (X-Client-Id), route and method.
"""

import argparse
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_wsgi import SluiceRateLimit  # noqa: E402


def service(environ, start_response):
    """The application itself, unaware of rate limiting."""
    path = environ.get("PATH_INFO", "/")
    if path == "/hello":
        body = b"hello\n"
    elif path.startswith("/items/"):
        body = ("item %s\n" % path[len("/items/"):]).encode()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def make_app(agent_socket, fail_open=True, window_seconds=0, domain="http",
             timeout=0.05):
    return SluiceRateLimit(service, agent_socket, domain=domain,
                           routes=[("/items/*", "/items")],
                           fail_open=fail_open,
                           window_seconds=window_seconds, timeout=timeout)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", required=True, help="agent socket path")
    parser.add_argument("--listen", default="127.0.0.1:8091")
    parser.add_argument("--fail-closed", action="store_true")
    parser.add_argument("--window", type=int, default=0)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    app = make_app(args.agent, not args.fail_closed, args.window)
    server = make_server(host, int(port), app,
                         server_class=ThreadingWSGIServer)
    print("listening on http://%s" % args.listen, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
