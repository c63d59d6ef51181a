// RestApi: serves an AdminApi over HTTP with cpprestsdk's http_listener on
// --http HOST:PORT. It only moves bytes: reads the method, path, the
// Authorization header and the body (refusing bodies over
// AdminApi::kMaxBodyBytes unread), calls AdminApi::Handle, and writes the
// response. No exception escapes into cpprest.
//
// Thread-safety: Start/Stop from one thread; requests are handled on
// cpprest's thread pool, concurrently.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "controller/admin_api.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace sluice {

class RestApi {
 public:
  // `listen` is HOST:PORT; `api` must outlive this.
  RestApi(std::string listen, AdminApi* api);
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
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

}  // namespace sluice
