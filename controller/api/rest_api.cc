#include "controller/api/rest_api.h"

#include <utility>

#include "platform/endpoint.h"

namespace sluice {
namespace {

// The server reads no more body than the API accepts.
HttpLimits ForTheApi(HttpLimits limits) {
  limits.max_body_bytes = AdminApi::kMaxBodyBytes;
  return limits;
}

}  // namespace

RestApi::RestApi(std::string listen, AdminApi* api, std::string tls_cert,
                 std::string tls_key, HttpLimits limits)
    : listen_(listen),
      https_(!tls_cert.empty()),
      api_(api),
      server_(HttpServerOptions{std::move(listen), std::move(tls_cert),
                                std::move(tls_key), ForTheApi(limits)},
              this) {}

RestApi::~RestApi() { Stop(); }

Status RestApi::Start() {
  StatusOr<HostPort> address = ParseHostPort(listen_);
  if (!address.ok()) {
    return Status::InvalidArgument("--http: " + address.status().message(),
                                   "http");
  }
  Status started = server_.Start();
  if (started.code() == Status::Code::kUnavailable) {
    return Status::Unavailable(
        std::string("cannot serve ") + (https_ ? "HTTPS" : "HTTP") + ": " +
        started.message() + "; choose a free address with --http");
  }
  if (!started.ok() && started.field().empty()) {
    return Status::InvalidArgument("--http: " + started.message(), "http");
  }
  return started;
}

void RestApi::Stop() { server_.Stop(); }

std::optional<HttpResponse> RestApi::Admit(const HttpRequest& head) {
  return api_->Authorize(head);
}

HttpResponse RestApi::Handle(const HttpRequest& request) {
  return api_->Handle(request);
}

HttpResponse RestApi::Refuse(int status, const std::string& code,
                             const std::string& message) {
  return AdminApi::Error(status, code, message);
}

}  // namespace sluice
