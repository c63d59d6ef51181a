// HttpServer: HTTP/1.1, or HTTPS, on Boost.Asio and Boost.Beast, made to stay
// up against hostile clients. It moves bytes within HttpLimits
// (platform/http/http_limits.h); an HttpHandler (http_handler.h) says what
// they mean. No thread ever waits on a client: every read and write is
// asynchronous with a deadline, and the handler's blocking work runs on
// worker threads only once a request is complete.
//
// A connection's life (platform/http/http_connection.h does it):
//   1. accept: beyond max_connections in all or max_connections_per_client
//      from its address, it gets 503 and is closed at once;
//   2. HTTPS: the TLS handshake, within header_timeout_ms;
//   3. the request header within header_timeout_ms, at most
//      max_header_bytes (431), max_target_bytes (414), max_header_fields
//      (431); malformed: 400. Each refusal closes the connection;
//   4. Admit(): a response there is sent without reading the body;
//   5. the body: at most max_body_bytes, with Content-Length or chunked
//      (413 as soon as it is known to be over), at min_bytes_per_second
//      after a grace of header_timeout_ms, else the connection is closed.
//      "Expect: 100-continue" is answered once the request is admitted;
//   6. Handle() on a worker thread, the response written at
//      min_bytes_per_second (after the same grace);
//   7. keep-alive: back to 3 (pipelined requests are answered one at a
//      time, in order); or close: the connection's input is discarded for
//      up to linger_ms / linger_bytes so the client reads the answer.
// Refusals use the handler's Refuse() body, with "Connection: close".
//
// Thread-safety: Start/Stop from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "platform/http/http_handler.h"
#include "platform/http/http_limits.h"

namespace sluice {

struct HttpServerOptions {
  std::string listen;  // HOST:PORT; port 0 picks a free one (see port())
  // PEM certificate chain and private key: HTTPS. Both or neither.
  std::string tls_cert;
  std::string tls_key;
  HttpLimits limits;
};

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler* handler);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. InvalidArgument for a bad address, TLS files
  // that cannot be used, or limits that are zero; Unavailable when the
  // address cannot be bound.
  Status Start();
  // Stops accepting and refuses new requests (503), lets handlers in
  // flight finish while the I/O threads still run (so their answers go out
  // to clients that read them at once), then closes every connection.
  // Idempotent.
  void Stop();

  // The bound port, once started.
  uint16_t port() const { return port_; }

 private:
  class Impl;
  const HttpServerOptions options_;
  HttpHandler* const handler_;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace sluice
