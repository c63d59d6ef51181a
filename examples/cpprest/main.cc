// sluice-example-cpprest: a small HTTP service whose every request goes
// through the Sluice middleware (sluice/cpprest_middleware.h).
//
//   sluice-example-cpprest --listen 127.0.0.1:8090 --agent var/agent.sock
//       [--fail-closed] [--window SECONDS] [--call-timeout-ms MS]
//
// Routes: GET /hello, GET /items/<id> (one route, "/items", for every
// id), GET /stats (the client's counters as JSON). Requests are checked in
// domain "http" with client_id (the X-Client-Id header), route and method.
// Stops on SIGINT or SIGTERM.
#include <cpprest/http_listener.h>
#include <cpprest/json.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "sluice/client.h"
#include "sluice/cpprest_middleware.h"

namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::status_codes;

struct Args {
  std::string listen = "127.0.0.1:8090";
  std::string agent;
  bool fail_closed = false;
  int64_t window = 0;
  int64_t call_timeout_ms = 50;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--fail-closed") {
      args->fail_closed = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "missing value after " << flag << "\n";
      return false;
    }
    std::string value = argv[++i];
    if (flag == "--listen") {
      args->listen = value;
    } else if (flag == "--agent") {
      args->agent = value;
    } else if (flag == "--window" || flag == "--call-timeout-ms") {
      char* end = nullptr;
      int64_t number = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || number < 0) {
        std::cerr << flag << " takes a whole number >= 0, got " << value
                  << "\n";
        return false;
      }
      (flag == "--window" ? args->window : args->call_timeout_ms) = number;
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return false;
    }
  }
  if (args->agent.empty()) std::cerr << "--agent SOCKET is required\n";
  return !args->agent.empty();
}

web::json::value StatsJson(const sluice::client::ClientStats& s) {
  web::json::value json = web::json::value::object();
  json["allowed"] = web::json::value::number(s.allowed);
  json["refused"] = web::json::value::number(s.refused);
  json["failed_open"] = web::json::value::number(s.failed_open);
  json["failed_closed"] = web::json::value::number(s.failed_closed);
  json["unreachable"] = web::json::value::number(s.unreachable);
  json["timeouts"] = web::json::value::number(s.timeouts);
  json["connections_opened"] = web::json::value::number(s.connections_opened);
  return json;
}

// The service itself, unaware of rate limiting.
pplx::task<http_response> Serve(const sluice::client::Client& client,
                                http_request request) {
  http_response response(status_codes::OK);
  const std::string path = request.relative_uri().path();
  if (request.method() != web::http::methods::GET) {
    response.set_status_code(status_codes::MethodNotAllowed);
  } else if (path == "/hello") {
    response.set_body(std::string("hello\n"));
  } else if (path.rfind("/items/", 0) == 0) {
    response.set_body("item " + path.substr(7) + "\n");
  } else if (path == "/stats") {
    response.set_body(StatsJson(client.stats()));
  } else {
    response.set_status_code(status_codes::NotFound);
  }
  return pplx::task_from_result(response);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) return 2;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  sluice::client::ClientOptions client_options;
  client_options.socket_path = args.agent;
  client_options.call_timeout = std::chrono::milliseconds(args.call_timeout_ms);
  client_options.failure_policy = args.fail_closed
                                      ? sluice::client::FailurePolicy::kClosed
                                      : sluice::client::FailurePolicy::kOpen;
  auto client = std::make_shared<sluice::client::Client>(client_options);

  sluice::client::MiddlewareOptions options;
  options.domain = "http";
  options.routes = {{"/items/*", "/items"}};
  options.window_seconds = args.window;
  sluice::client::RateLimitMiddleware middleware(
      client, options,
      [client](http_request request) { return Serve(*client, request); });

  web::http::experimental::listener::http_listener listener("http://" +
                                                            args.listen);
  middleware.Attach(listener);
  try {
    listener.open().wait();
  } catch (const std::exception& e) {
    std::cerr << "cannot listen on " << args.listen << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening on http://" << args.listen << std::endl;
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  listener.close().wait();
  return 0;
}
