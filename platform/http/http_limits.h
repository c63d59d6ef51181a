// HttpLimits: what one HttpServer (platform/http/http_server.h) allows a
// client, and the threads it runs on. The defaults are the controller's
// (docs/operations.md "Limits of the REST API"); each field states its own.
//
// A plain struct; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

struct HttpLimits {
  // Open connections in all, and from one client address (IPv4, or IPv6
  // with IPv4-mapped addresses counted as IPv4). A connection beyond
  // either gets 503 and is closed at once.
  size_t max_connections = 4096;
  size_t max_connections_per_client = 64;

  // A request's header (request line and fields) must be complete within
  // this long of the connection being ready for it: accepted (for HTTPS:
  // past its TLS handshake, which gets as long from the accept), or done
  // with the previous response. Else the connection is closed. Also the
  // grace a body gets before min_bytes_per_second applies, and the longest
  // a body or a response may stall.
  int64_t header_timeout_ms = 10000;
  // The header in all (request line and fields): beyond it, 431 (or 414
  // when the request line alone is too long).
  size_t max_header_bytes = 16 * 1024;
  // The request target (path and query): beyond it, 414.
  size_t max_target_bytes = 8 * 1024;
  // Header fields: beyond it, 431.
  size_t max_header_fields = 100;

  // A request body, with Content-Length or chunked: beyond it, 413.
  size_t max_body_bytes = 1 << 20;
  // After the grace of header_timeout_ms, a body must have arrived at this
  // average rate since its start, and a response must be read at it; a
  // connection that falls behind is closed.
  int64_t min_bytes_per_second = 4096;

  // Closing a connection with unread input (a refused body): its input is
  // read and discarded for up to this long and this many bytes first, so
  // the client reads the answer rather than a connection reset.
  int64_t linger_ms = 2000;
  size_t linger_bytes = 4 << 20;

  // Threads that move bytes (never blocked by a client), and threads that
  // run the handler's Handle() (which may block, e.g. on a database).
  int io_threads = 2;
  int worker_threads = 4;
};

}  // namespace sluice
