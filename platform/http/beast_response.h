// An HttpResponse (platform/http/http_message.h) as a Boost.Beast message,
// framed for the connection it goes out on: Content-Length (none on 204 and
// 304), Content-Type when there is a body, "Connection: close" (or
// "keep-alive" to an HTTP/1.0 client) as the server decided, and no body
// bytes after a HEAD request (but the Content-Length of the GET).
//
// Pure functions; thread-safe.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "platform/http/http_message.h"

namespace sluice {

// `version` is the request's (10 or 11).
boost::beast::http::response<boost::beast::http::string_body> ToBeastResponse(
    HttpResponse response, unsigned version, bool keep_alive, bool head_only);

// The same response as bytes on the wire (HTTP/1.1, "Connection: close"),
// for answers written without a connection (refused at accept).
std::string ResponseBytes(const HttpResponse& response);

}  // namespace sluice
