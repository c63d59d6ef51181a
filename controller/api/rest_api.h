// RestApi: serves an AdminApi over HTTP, or HTTPS when given a certificate
// and key, with cpprestsdk's http_listener on --http HOST:PORT. It only
// moves bytes: reads the method, path, query, the Authorization and
// If-Match headers and the body (refusing bodies over
// AdminApi::kMaxBodyBytes unread), calls AdminApi::Handle, and writes the
// response. No exception escapes into cpprest.
//
// HTTPS: `tls_cert` is a PEM certificate chain (the server's certificate
// first), `tls_key` its PEM private key; both are loaded and checked at
// Start(), which fails with a message when either cannot be used.
//
// Thread-safety: Start/Stop from one thread; requests are handled on
// cpprest's thread pool, concurrently.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "controller/api/admin_api.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace sluice {

class RestApi {
 public:
  // `listen` is HOST:PORT; `api` must outlive this. Empty `tls_cert` and
  // `tls_key`: plain HTTP; both set: HTTPS; one alone is refused at Start().
  RestApi(std::string listen, AdminApi* api, std::string tls_cert = "",
          std::string tls_key = "");
  ~RestApi();  // Stop()s
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  // Binds and starts serving. InvalidArgument for a bad address,
  // Unavailable when it cannot be bound.
  Status Start();
  // Stops accepting and waits for requests in flight. Idempotent.
  void Stop();

 private:
  const std::string listen_;
  AdminApi* const api_;
  const std::string tls_cert_;
  const std::string tls_key_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

}  // namespace sluice
