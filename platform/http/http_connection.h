// One connection of an HttpServer (platform/http/http_server.h), from its
// TLS handshake to its close: the steps and limits listed there. Internal
// to the server.
//
// Thread-safety: a connection runs on its socket's strand; the handler's
// Handle() runs on a worker thread and posts the response back.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "platform/http/connection_gate.h"
#include "platform/http/http_events.h"
#include "platform/http/http_handler.h"
#include "platform/http/http_limits.h"

namespace sluice {

// What every connection of one server shares. Outlives them all.
struct HttpServerShared {
  HttpServerShared(const HttpLimits& server_limits, HttpHandler* api)
      : limits(server_limits),
        handler(api),
        gate(server_limits.max_connections,
             server_limits.max_connections_per_client) {}

  const HttpLimits limits;
  HttpHandler* const handler;
  boost::asio::thread_pool* workers = nullptr;  // runs Handle()
  std::atomic<bool> stopping{false};            // refuse new requests
  ConnectionGate gate;
  HttpEvents events;
};

// Serves `socket` (its executor a strand) until the connection ends: over
// TLS when `tls` is not null. `client` names the peer's address (logs);
// `ticket` is its place in the gate, given back when the connection ends.
void ServeConnection(boost::asio::ip::tcp::socket socket,
                     HttpServerShared* shared, ConnectionGate::Ticket ticket,
                     std::string client, boost::asio::ssl::context* tls);

}  // namespace sluice
