// The server side of TLS for HttpServer: a certificate chain and its private
// key (PEM files) loaded into an Asio SSL context that offers TLS 1.2 and
// later only.
//
// Thread-compatible (one context per call).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "common/status.h"

namespace sluice {

// Loads `cert` (a PEM chain, the server's certificate first) and `key` (its
// unencrypted PEM private key) into `context`. InvalidArgument naming the
// --tls-cert or --tls-key file and what to give instead. Never throws.
Status LoadTlsContext(boost::asio::ssl::context& context,
                      const std::string& cert, const std::string& key);

}  // namespace sluice
