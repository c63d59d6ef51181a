#include "platform/http/beast_response.h"

#include <boost/beast/http/write.hpp>
#include <sstream>
#include <utility>

namespace sluice {

namespace http = boost::beast::http;

http::response<http::string_body> ToBeastResponse(HttpResponse response,
                                                  unsigned version,
                                                  bool keep_alive,
                                                  bool head_only) {
  http::response<http::string_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    out.insert(name, value);
  }
  const bool no_body = response.status == 204 || response.status == 304 ||
                       (response.status >= 100 && response.status < 200);
  if (!no_body) {
    out.set(http::field::content_type, response.content_type);
    out.content_length(response.body.size());
    if (!head_only) out.body() = std::move(response.body);
  }
  out.keep_alive(keep_alive);
  return out;
}

std::string ResponseBytes(const HttpResponse& response) {
  std::ostringstream bytes;
  bytes << ToBeastResponse(response, 11, /*keep_alive=*/false,
                           /*head_only=*/false);
  return bytes.str();
}

}  // namespace sluice
