#include "controller/rest_api.h"

#include <cpprest/http_listener.h>

#include <exception>
#include <utility>

#include "platform/endpoint.h"
#include "platform/log.h"

namespace sluice {
namespace {

using web::http::http_exception;
using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;

HttpRequest ReadRequest(http_request request) {
  HttpRequest out;
  out.method = request.method();
  out.path = request.request_uri().path();
  auto auth = request.headers().find("Authorization");
  if (auth != request.headers().end()) out.authorization = auth->second;
  if (request.headers().content_length() > AdminApi::kMaxBodyBytes) {
    out.body_too_large = true;
    return out;
  }
  // Bodies without Content-Length (chunked) are read, then measured.
  out.body = request.extract_utf8string(true).get();
  if (out.body.size() > AdminApi::kMaxBodyBytes) {
    out.body.clear();
    out.body_too_large = true;
  }
  return out;
}

void Reply(const http_request& request, const HttpResponse& response) {
  http_response reply(static_cast<web::http::status_code>(response.status));
  for (const auto& [name, value] : response.headers) {
    reply.headers().add(name, value);
  }
  if (response.status != 204) {
    reply.set_body(response.body, response.content_type);
  }
  // A client that went away makes the reply fail; observe that here, or
  // pplx would terminate the process over an unobserved task exception.
  request.reply(reply).then([](pplx::task<void> sent) {
    try {
      sent.get();
    } catch (const http_exception& e) {
      LogWarn("http", std::string("could not send a response: ") + e.what());
    } catch (const std::exception& e) {
      LogWarn("http", std::string("sending a response failed: ") + e.what());
    }
  });
}

void Serve(AdminApi* api, const http_request& request) {
  HttpResponse response;
  try {
    response = api->Handle(ReadRequest(request));
  } catch (const http_exception& e) {
    // Reading the body failed: the client sent something cpprest could not
    // decode, or went away.
    response = AdminApi::Error(
        400, "bad_request",
        std::string("could not read the request body: ") + e.what() +
            "; send a UTF-8 JSON body with a correct Content-Length");
  } catch (const std::exception& e) {
    LogError("http", std::string("reading a request failed: ") + e.what());
    response = AdminApi::Error(500, "internal",
                               std::string("could not read the request: ") +
                                   e.what() + "; please retry");
  }
  try {
    Reply(request, response);
  } catch (const std::exception& e) {
    LogWarn("http", std::string("could not send a response: ") + e.what());
  }
}

}  // namespace

RestApi::RestApi(std::string listen, AdminApi* api)
    : listen_(std::move(listen)), api_(api) {}

RestApi::~RestApi() { Stop(); }

Status RestApi::Start() {
  StatusOr<HostPort> address = ParseHostPort(listen_);
  if (!address.ok()) {
    return Status::InvalidArgument("--http: " + address.status().message(),
                                   "http");
  }
  std::string host = address->host.find(':') != std::string::npos
                         ? "[" + address->host + "]"
                         : address->host;
  std::string uri =
      "http://" + host + ":" + std::to_string(address->port) + "/";
  try {
    auto listener = std::make_unique<http_listener>(web::uri(uri));
    AdminApi* api = api_;
    listener->support(
        [api](const http_request& request) { Serve(api, request); });
    listener->open().wait();
    listener_ = std::move(listener);
  } catch (const std::exception& e) {
    // cpprest reports a taken port as a boost::system::system_error, a bad
    // URI as web::uri_exception; both are std::exceptions.
    return Status::Unavailable("cannot serve HTTP on " + listen_ + ": " +
                               e.what() +
                               "; choose a free address with --http");
  }
  return Status::Ok();
}

void RestApi::Stop() {
  if (listener_ == nullptr) return;
  try {
    listener_->close().wait();
  } catch (const std::exception& e) {
    LogWarn("http", std::string("closing the HTTP listener: ") + e.what());
  }
  listener_.reset();
}

}  // namespace sluice
