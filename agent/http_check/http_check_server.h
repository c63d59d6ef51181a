// HttpCheckServer: the agent's HTTP front door (--http-check HOST:PORT):
// GET /v1/check/{domain}?cost=N&key=value&... answers one RL.CHECK, as
// nginx auth_request, Traefik forwardAuth and Envoy ext_authz need. What a
// request means: agent/http_check/check_request.h; what is answered:
// agent/http_check/check_response.h.
//
// Runs on the agent's event loop (Boost.Asio, parsing with Boost.Beast)
// and calls the Checker directly: no thread of its own, no lock.
//
// HTTP/1.1 with keep-alive (and HTTP/1.0 keep-alive), requests answered
// in order. For hostile clients:
//   - a request's header (request line and fields) is at most
//     max_header_bytes: beyond it, 400 and the connection is closed;
//   - once a request's first byte arrived, its header must be complete
//     within header_timeout_ms: else 408 and close (slow clients cannot
//     hold a connection by trickling bytes);
//   - a connection waiting for its next request (or its first) is closed
//     after idle_timeout_ms;
//   - a client that does not read its answer is dropped after
//     write_timeout_ms;
//   - no body is accepted: a request with one (Content-Length above 0, or
//     Transfer-Encoding) gets 400 and the connection is closed;
//   - methods other than GET and HEAD get 405;
//   - at most max_connections open connections: beyond it a new one gets
//     503 and is closed.
// After an answer that closes the connection, what the client still sends
// is read and dropped for up to a second (at most 64 KiB), so that the
// answer is not lost to a reset.
//
// Plain HTTP, no authentication: like --tcp, keep it on loopback (a
// non-loopback address is served, with a warning in the log).
//
// Thread-safety: as every FrontDoor (agent/front_door.h); everything runs
// on the event loop's thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/front_door.h"
#include "agent/http_check/check_response.h"
#include "common/descriptor.h"
#include "common/status.h"

namespace sluice {

struct HttpCheckOptions {
  // HOST:PORT to listen on; port 0 picks a free port (port()).
  std::string address;
  // Open connections. Default 1024.
  size_t max_connections = 1024;
  // Request line and header fields of one request. Default 8 KiB.
  size_t max_header_bytes = 8 * 1024;
  // From a request's first byte to the end of its header. Default 10 s.
  int64_t header_timeout_ms = 10 * 1000;
  // Waiting for the next request on an open connection. Default 60 s.
  int64_t idle_timeout_ms = 60 * 1000;
  // Writing one answer. Default 10 s.
  int64_t write_timeout_ms = 10 * 1000;
};

class HttpCheckServer final : public FrontDoor {
 public:
  HttpCheckServer(const FrontDoorContext& context, HttpCheckOptions options);
  ~HttpCheckServer() override;  // Stop()s
  HttpCheckServer(const HttpCheckServer&) = delete;
  HttpCheckServer& operator=(const HttpCheckServer&) = delete;

  // A factory for AgentOptions::front_doors.
  static FrontDoorFactory Factory(HttpCheckOptions options);

  Status Start() override;
  // Stops accepting and closes every connection.
  void Stop() override;
  std::string Describe() const override;

  // The bound port (useful with port 0); 0 before Start().
  uint16_t port() const { return port_; }
  size_t connection_count() const { return sessions_.size(); }
  uint64_t connections_accepted() const { return next_id_ - 1; }

 private:
  class Session;

  void Accept();
  void Forget(uint64_t id);
  // Checks the request `target` and appends its answer to *out.
  void Answer(std::string_view target, const http_check::Framing& framing,
              std::string* out);

  FrontDoorContext context_;
  HttpCheckOptions options_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::steady_timer> retry_timer_;
  uint16_t port_ = 0;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
  Descriptor scratch_;
  // Expires with the server: handlers that outlive it do nothing.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace sluice
