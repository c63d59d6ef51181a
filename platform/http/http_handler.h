// HttpHandler: what an HttpServer (platform/http/http_server.h) asks of the
// code that answers its requests. The server moves bytes and enforces
// HttpLimits; the handler decides who may send a body and what a request
// means, in three calls:
//   - Admit(head): once a request's line and header fields are read, before
//     any byte of its body. On an I/O thread, so it must not block (no
//     database). Returns nothing to let the body be read and Handle()
//     called, or the response to send instead (a 401 for a missing token):
//     the body is then never read, and the connection is closed after the
//     response when the request announced one.
//   - Handle(request): the whole request. On a worker thread: may block.
//   - Refuse(status, code, message): the server's own refusals (400
//     malformed, 413, 414, 431, 503 too many connections or stopping) in the
//     handler's error format. On an I/O thread.
// None of them may throw.
//
// Thread-safety: called from many threads at once; implementations must be
// thread-safe.
#pragma once

#include <optional>
#include <string>

#include "platform/http/http_message.h"

namespace sluice {

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;

  virtual std::optional<HttpResponse> Admit(const HttpRequest& head) = 0;
  virtual HttpResponse Handle(const HttpRequest& request) = 0;
  virtual HttpResponse Refuse(int status, const std::string& code,
                              const std::string& message) = 0;
};

}  // namespace sluice
