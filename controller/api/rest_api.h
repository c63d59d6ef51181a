// RestApi: serves an AdminApi over HTTP, or HTTPS when given a certificate
// and key, on --http HOST:PORT with platform/http's HttpServer, within
// HttpLimits (docs/operations.md, "Limits of the REST API"). It only adapts:
// the server asks AdminApi::Authorize() once a request's header is read,
// before any byte of its body (so a request without a valid token is
// answered 401 and its body never read), then reads the body (at most
// AdminApi::kMaxBodyBytes) and calls AdminApi::Handle() on a worker thread.
// The server's own refusals (400, 413, 414, 431, 503) carry the API's error
// body, {"error": {"code", "message", "field"}}.
//
// HTTPS: `tls_cert` is a PEM certificate chain (the server's certificate
// first), `tls_key` its PEM private key; both are loaded and checked at
// Start(), which fails with a message when either cannot be used.
//
// Thread-safety: Start/Stop from one thread; requests are handled
// concurrently on the server's threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "controller/api/admin_api.h"
#include "platform/http/http_handler.h"
#include "platform/http/http_limits.h"
#include "platform/http/http_server.h"

namespace sluice {

class RestApi : private HttpHandler {
 public:
  // `listen` is HOST:PORT; `api` must outlive this. Empty `tls_cert` and
  // `tls_key`: plain HTTP; both set: HTTPS; one alone is refused at Start().
  RestApi(std::string listen, AdminApi* api, std::string tls_cert = "",
          std::string tls_key = "", HttpLimits limits = HttpLimits());
  ~RestApi() override;  // Stop()s
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  // Binds and starts serving. InvalidArgument for a bad address or TLS
  // files, Unavailable when the address cannot be bound.
  Status Start();
  // Stops accepting, lets requests in flight finish, closes every
  // connection. Idempotent.
  void Stop();

 private:
  std::optional<HttpResponse> Admit(const HttpRequest& head) override;
  HttpResponse Handle(const HttpRequest& request) override;
  HttpResponse Refuse(int status, const std::string& code,
                      const std::string& message) override;

  const std::string listen_;
  const bool https_;
  AdminApi* const api_;
  HttpServer server_;
};

}  // namespace sluice
