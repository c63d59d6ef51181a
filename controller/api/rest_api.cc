#include "controller/api/rest_api.h"

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
  out.query = request.request_uri().query();
  auto auth = request.headers().find("Authorization");
  if (auth != request.headers().end()) out.authorization = auth->second;
  auto if_match = request.headers().find("If-Match");
  if (if_match != request.headers().end()) out.if_match = if_match->second;
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

// Loads the certificate chain and key into `context`. Never throws.
Status LoadTls(boost::asio::ssl::context& context, const std::string& cert,
               const std::string& key) {
  boost::system::error_code ec;
  context.set_options(boost::asio::ssl::context::default_workarounds |
                          boost::asio::ssl::context::no_sslv2 |
                          boost::asio::ssl::context::no_sslv3 |
                          boost::asio::ssl::context::no_tlsv1 |
                          boost::asio::ssl::context::no_tlsv1_1,
                      ec);
  if (!ec) context.use_certificate_chain_file(cert, ec);
  if (ec) {
    return Status::InvalidArgument(
        "--tls-cert " + cert + ": " + ec.message() +
            "; give a readable PEM certificate (chain), e.g. from openssl "
            "req -x509",
        "tls-cert");
  }
  context.use_private_key_file(key, boost::asio::ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument(
        "--tls-key " + key + ": " + ec.message() +
            "; give the readable, unencrypted PEM private key of --tls-cert",
        "tls-key");
  }
  return Status::Ok();
}

}  // namespace

RestApi::RestApi(std::string listen, AdminApi* api, std::string tls_cert,
                 std::string tls_key)
    : listen_(std::move(listen)),
      api_(api),
      tls_cert_(std::move(tls_cert)),
      tls_key_(std::move(tls_key)) {}

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
  if (tls_cert_.empty() != tls_key_.empty()) {
    return Status::InvalidArgument(
        "--tls-cert and --tls-key go together: give both for HTTPS, or "
        "neither for plain HTTP",
        tls_cert_.empty() ? "tls-cert" : "tls-key");
  }
  const bool https = !tls_cert_.empty();
  web::http::experimental::listener::http_listener_config config;
  if (https) {
    // Check now, so a bad file fails the start rather than each handshake.
    boost::asio::ssl::context probe(boost::asio::ssl::context::tls_server);
    Status usable = LoadTls(probe, tls_cert_, tls_key_);
    if (!usable.ok()) return usable;
    config.set_ssl_context_callback(
        [cert = tls_cert_, key = tls_key_](boost::asio::ssl::context& ctx) {
          Status loaded = LoadTls(ctx, cert, key);
          if (!loaded.ok()) LogError("http", loaded.message());
        });
  }
  std::string uri = std::string(https ? "https://" : "http://") + host + ":" +
                    std::to_string(address->port) + "/";
  try {
    auto listener = std::make_unique<http_listener>(web::uri(uri), config);
    AdminApi* api = api_;
    listener->support(
        [api](const http_request& request) { Serve(api, request); });
    listener->open().wait();
    listener_ = std::move(listener);
  } catch (const std::exception& e) {
    // cpprest reports a taken port as a boost::system::system_error, a bad
    // URI as web::uri_exception; both are std::exceptions.
    return Status::Unavailable(
        std::string("cannot serve ") + (https ? "HTTPS" : "HTTP") + " on " +
        listen_ + ": " + e.what() + "; choose a free address with --http");
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
