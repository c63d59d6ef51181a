// Debian's nginx in front of a small counting application, asking the HTTP
// check with auth_request, configured by docs/examples/nginx-http-check.conf
// as it is (only its three addresses are replaced by free ports). The
// client sees 200s, then 429s with the RateLimit fields and Retry-After;
// the application never sees a refused request; a client without an id,
// or one trying to add keys to the check, is turned away; when the agent
// does not answer, nginx fails closed. nginx runs as a child process with
// its own prefix in a temporary directory and is stopped by its PID.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/http_check/http_check_server.h"
#include "tests/agent/door_fixture.h"
#include "tests/agent/http_check/raw_http.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"

namespace sluice {
namespace {

using testing::HttpResponse;
using testing::RawHttp;

constexpr char kNginx[] = "/usr/sbin/nginx";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces every `from` in *text; false when there is none.
bool ReplaceAll(std::string* text, const std::string& from,
                const std::string& to) {
  bool found = false;
  for (size_t at = text->find(from); at != std::string::npos;
       at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
    found = true;
  }
  return found;
}

// The application: answers every request "hello" and counts them.
class CountingApp {
 public:
  CountingApp() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CountingApp() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  std::vector<std::string> request_lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void Run() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      Serve(c);
      ::close(c);
    }
  }

  // Reads one request (header and Content-Length body), answers it.
  void Serve(int c) {
    std::string in;
    size_t end;
    char buf[4096];
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    size_t length = 0;
    const size_t cl = in.find("\r\nContent-Length: ");
    if (cl != std::string::npos && cl < end) {
      length = std::strtoul(in.c_str() + cl + 18, nullptr, 10);
    }
    while (in.size() < end + 4 + length) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(in.substr(0, in.find("\r\n")));
    }
    ++requests_;
    const std::string reply =
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
        "hello\n";
    ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class NginxTest : public testing::DoorFixture {
 protected:
  void SetUp() override {
    DoorFixture::SetUp();
    ASSERT_EQ(::access(kNginx, X_OK), 0)
        << kNginx << " not found: install Debian's nginx (deploy/lib.sh "
        << "SLUICE_PACKAGES)";
    HttpCheckOptions options;
    options.address = "127.0.0.1:0";
    door_ =
        StartDoor<HttpCheckServer>([options](const FrontDoorContext& context) {
          return std::make_unique<HttpCheckServer>(context, options);
        });
    ASSERT_NE(door_, nullptr);
    app_ = std::make_unique<CountingApp>();
    StartNginx();
  }

  void TearDown() override {
    nginx_.Stop();
    app_.reset();
    DoorFixture::TearDown();
  }

  void StartNginx() {
    std::string site = ReadFile(std::string(SLUICE_SOURCE_DIR) +
                                "/docs/examples/nginx-http-check.conf");
    ASSERT_FALSE(site.empty());
    nginx_port_ = testing::PickFreePort();
    ASSERT_TRUE(ReplaceAll(&site, "127.0.0.1:9091",
                           "127.0.0.1:" + std::to_string(door_->port())));
    ASSERT_TRUE(ReplaceAll(&site, "127.0.0.1:8001",
                           "127.0.0.1:" + std::to_string(app_->port())));
    ASSERT_TRUE(ReplaceAll(&site, "127.0.0.1:8000",
                           "127.0.0.1:" + std::to_string(nginx_port_)));
    const std::string prefix = dir_ + "/nginx";
    ASSERT_EQ(std::system(("mkdir -p " + prefix + "/tmp").c_str()), 0);
    std::ofstream(prefix + "/site.conf") << site;
    std::ofstream(prefix + "/nginx.conf")
        << "daemon off;\n"
        << "master_process off;\n"
        << "pid " << prefix << "/nginx.pid;\n"
        << "error_log " << prefix << "/error.log info;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n"
        << "  access_log " << prefix << "/access.log;\n"
        << "  client_body_temp_path " << prefix << "/tmp/body;\n"
        << "  proxy_temp_path " << prefix << "/tmp/proxy;\n"
        << "  fastcgi_temp_path " << prefix << "/tmp/fastcgi;\n"
        << "  uwsgi_temp_path " << prefix << "/tmp/uwsgi;\n"
        << "  scgi_temp_path " << prefix << "/tmp/scgi;\n"
        << "  include " << prefix << "/site.conf;\n"
        << "}\n";
    nginx_.Start({kNginx, "-p", prefix, "-c", prefix + "/nginx.conf", "-e",
                  prefix + "/error.log"},
                 {}, prefix + "/stdout.log");
    error_log_ = prefix + "/error.log";
    const bool up = testing::Eventually([&] {
      if (!nginx_.Running()) return true;
      RawHttp probe(nginx_port_);
      return probe.connected();
    });
    ASSERT_TRUE(up && nginx_.Running())
        << "nginx did not start:\n"
        << nginx_.LogTail() << ReadFile(error_log_);
  }

  HttpResponse Get(const std::string& path, const std::string& client,
                   const std::string& method = "GET",
                   const std::string& body = "") {
    RawHttp client_conn(nginx_port_);
    EXPECT_TRUE(client_conn.connected());
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: x\r\n";
    if (!client.empty()) request += "X-Client-Id: " + client + "\r\n";
    if (!body.empty()) {
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "Connection: close\r\n\r\n" + body;
    EXPECT_TRUE(client_conn.Send(request));
    HttpResponse r = client_conn.Read();
    EXPECT_NE(r.status, 0) << ReadFile(error_log_);
    return r;
  }

  HttpCheckServer* door_ = nullptr;
  std::unique_ptr<CountingApp> app_;
  testing::ChildProcess nginx_;
  uint16_t nginx_port_ = 0;
  std::string error_log_;
};

TEST(NginxDocsTest, TheDocsSnippetIsTheTestedFile) {
  const std::string docs =
      ReadFile(std::string(SLUICE_SOURCE_DIR) + "/docs/integrations.md");
  const std::string example = ReadFile(std::string(SLUICE_SOURCE_DIR) +
                                       "/docs/examples/nginx-http-check.conf");
  EXPECT_NE(docs.find(example), std::string::npos)
      << "docs/integrations.md must show docs/examples/nginx-http-check.conf "
         "as it is";
}

TEST_F(NginxTest, AllowsThenRefusesAndTheAppNeverSeesARefusal) {
  for (int i = 0; i < 5; ++i) {
    const HttpResponse r = Get("/orders", "acme");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "hello\n");
    EXPECT_EQ(r.header("ratelimit-policy"), "\"api-per-client\";q=10;w=1");
    EXPECT_EQ(r.header("ratelimit"),
              "\"api-per-client\";r=" + std::to_string(4 - i) + ";t=1");
  }
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r = Get("/orders", "acme");
    ASSERT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.header("ratelimit"), "\"api-per-client\";r=0;t=1");
    EXPECT_EQ(r.header("ratelimit-policy"), "\"api-per-client\";q=10;w=1");
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_NE(r.body.find("rate limited"), std::string::npos) << r.body;
  }
  EXPECT_EQ(app_->requests(), 5);
  // Another client has its own bucket.
  EXPECT_EQ(Get("/orders", "globex").status, 200);
  EXPECT_EQ(app_->requests(), 6);
}

TEST_F(NginxTest, TheRouteComesFromThePath) {
  // /search has a rule of its own (3 a minute for everyone): with a
  // different client each time, the fourth is refused by the route.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Get("/search", "c" + std::to_string(i)).status, 200);
  }
  const HttpResponse r = Get("/search", "c9");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("ratelimit-policy"), "\"api-search\";q=3;w=60");
  EXPECT_EQ(app_->requests(), 3);
  EXPECT_EQ(Peek("api", {{"route", "/search"}, {"client_id", "x"}}).remaining,
            0);
}

TEST_F(NginxTest, AnyMethodIsCheckedWithGetAndItsBodyGoesToTheAppOnly) {
  const HttpResponse r = Get("/orders", "poster", "POST", "{\"item\": 7}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(app_->requests(), 1);
  EXPECT_EQ(app_->request_lines().at(0), "POST /orders HTTP/1.0");
  EXPECT_EQ(Peek("api", {{"client_id", "poster"}}).remaining, 4);
}

TEST_F(NginxTest, NoClientOrAnInjectionAttemptIsTurnedAway) {
  EXPECT_EQ(Get("/orders", "").status, 401);
  // '&' would add a key to the check: the map refuses the value.
  EXPECT_EQ(Get("/orders", "x&client_id=acme").status, 401);
  EXPECT_EQ(app_->requests(), 0);
  EXPECT_EQ(Peek("api", {{"client_id", "acme"}}).remaining, 5);
}

TEST_F(NginxTest, AgentDownFailsClosed) {
  OnIo([this] { door_->Stop(); });
  const HttpResponse r = Get("/orders", "acme");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("unavailable"), std::string::npos);
  EXPECT_EQ(app_->requests(), 0);
}

}  // namespace
}  // namespace sluice
