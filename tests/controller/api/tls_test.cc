// --tls-cert/--tls-key: the API over HTTPS, with a self-signed certificate
// made by openssl in the test's temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/controller/api_fixture.h"
#include "tests/support/raw_http.h"

namespace sluice {
namespace {

using testing::HttpResult;
using testing::HttpTestClient;
using web::http::methods;

class TlsTest : public testing::ApiTest {
 protected:
  static constexpr int kHandshakeTimeoutMs = 1500;

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
        "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    test_db_ = std::make_unique<testing::TestDatabase>();
    ControllerOptions options;
    options.tls_cert = cert_;
    options.tls_key = key_;
    // Short, so a handshake that never finishes is timed out quickly.
    options.http_limits.header_timeout_ms = kHandshakeTimeoutMs;
    StartController(options);
  }
  void TearDown() override {
    ApiTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A client that trusts only the test's certificate.
  std::unique_ptr<HttpTestClient> TrustingClient() {
    web::http::client::http_client_config config;
    const std::string cert = cert_;
    config.set_ssl_context_callback([cert](boost::asio::ssl::context& context) {
      context.load_verify_file(cert);
    });
    auto client = std::make_unique<HttpTestClient>(BaseUrl(), config);
    client->set_token(kAdminToken);
    return client;
  }

  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsTest, ServesTheApiOverHttps) {
  ASSERT_EQ(BaseUrl().rfind("https://", 0), 0u);
  auto client = TrustingClient();
  HttpResult health = client->Send(methods::GET, "/healthz", "", false);
  EXPECT_EQ(health.status, 200) << health.body;
  HttpResult created =
      client->Post("/api/v1/rules", testing::RuleNamed("over-tls").dump());
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(client->Get("/api/v1/rules").json["rules"].size(), 1u);
  EXPECT_EQ(client->Send(methods::GET, "/api/v1/rules", "", false).status, 401);
}

TEST_F(TlsTest, ClientsThatDoNotTrustTheCertificateOrSpeakHttpFail) {
  // Default trust store: the self-signed certificate is refused.
  HttpTestClient untrusting(BaseUrl());
  EXPECT_THROW(untrusting.Send(methods::GET, "/healthz", "", false),
               web::http::http_exception);
  // Plain HTTP to the HTTPS port gets no HTTP answer.
  HttpTestClient plain("http://" + options_.http);
  bool answered = false;
  try {
    answered = plain.Send(methods::GET, "/healthz", "", false).status == 200;
  } catch (const web::http::http_exception&) {
  }
  EXPECT_FALSE(answered);
  // The server is still fine.
  EXPECT_EQ(TrustingClient()->Send(methods::GET, "/healthz", "", false).status,
            200);
}

TEST_F(TlsTest, AHandshakeThatNeverFinishesIsTimedOutWhileOthersAreServed) {
  const uint16_t port = static_cast<uint16_t>(
      std::stoi(options_.http.substr(options_.http.rfind(':') + 1)));
  const auto start = std::chrono::steady_clock::now();
  // One sends nothing; one the start of a ClientHello whose record
  // announces 512 bytes, then nothing.
  testing::RawConnection silent(port);
  testing::RawConnection partial(port);
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(partial.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01", 8)));
  auto client = TrustingClient();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client->Send(methods::GET, "/healthz", "", false).status, 200);
  }
  EXPECT_TRUE(silent.WaitClosed(kHandshakeTimeoutMs + 3000));
  EXPECT_TRUE(partial.WaitClosed(1000));
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  EXPECT_GE(waited, kHandshakeTimeoutMs - 100);
  EXPECT_EQ(TrustingClient()->Get("/api/v1/rules").status, 200);
}

TEST(TlsStartTest, UnusableCertificatesFailTheStart) {
  ControllerOptions options;
  options.db = "host=127.0.0.1 port=1 dbname=none";
  options.http = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.agents = "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.tls_cert = "/nonexistent/cert.pem";
  options.tls_key = "/nonexistent/key.pem";
  Status missing = Controller(options).Start();
  EXPECT_EQ(missing.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.message().find("--tls-cert"), std::string::npos)
      << missing.ToString();
  options.tls_key.clear();
  Status half = Controller(options).Start();
  EXPECT_EQ(half.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(half.message().find("together"), std::string::npos);
}

}  // namespace
}  // namespace sluice
