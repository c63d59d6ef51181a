#include "platform/http/tls_context.h"

namespace sluice {

Status LoadTlsContext(boost::asio::ssl::context& context,
                      const std::string& cert, const std::string& key) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code ec;
  context.set_options(ssl::context::default_workarounds |
                          ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                      ec);
  if (!ec) context.use_certificate_chain_file(cert, ec);
  if (ec) {
    return Status::InvalidArgument(
        "--tls-cert " + cert + ": " + ec.message() +
            "; give a readable PEM certificate (chain), e.g. from openssl "
            "req -x509",
        "tls-cert");
  }
  context.use_private_key_file(key, ssl::context::pem, ec);
  if (!ec) {
    // The key must belong to the certificate.
    if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
      ec = boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                     boost::asio::error::get_ssl_category());
    }
  }
  if (ec) {
    return Status::InvalidArgument(
        "--tls-key " + key + ": " + ec.message() +
            "; give the readable, unencrypted PEM private key of --tls-cert",
        "tls-key");
  }
  return Status::Ok();
}

}  // namespace sluice
