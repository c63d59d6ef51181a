#include "platform/http/http_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "platform/endpoint.h"
#include "platform/http/beast_response.h"
#include "platform/http/http_connection.h"
#include "platform/http/tls_context.h"

namespace sluice {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using net::ip::tcp;

// The peer's address as the gate counts it: IPv4-mapped IPv6 as IPv4.
std::string ClientKey(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6())
        .to_string();
  }
  return address.to_string();
}

Status CheckLimits(const HttpLimits& limits) {
  if (limits.max_connections == 0 || limits.max_connections_per_client == 0 ||
      limits.header_timeout_ms <= 0 || limits.max_header_bytes == 0 ||
      limits.max_target_bytes == 0 || limits.max_header_fields == 0 ||
      limits.min_bytes_per_second <= 0 || limits.linger_ms < 0 ||
      limits.io_threads <= 0 || limits.worker_threads <= 0) {
    return Status::InvalidArgument(
        "HTTP limits must be positive (connections, timeouts, header sizes, "
        "rate, threads)",
        "http");
  }
  return Status::Ok();
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpLimits& limits, HttpHandler* handler)
      : shared_(limits, handler),
        ioc_(std::make_unique<net::io_context>(limits.io_threads)),
        work_(net::make_work_guard(*ioc_)),
        acceptor_(std::make_unique<tcp::acceptor>(net::make_strand(*ioc_))),
        retry_(std::make_unique<net::steady_timer>(acceptor_->get_executor())),
        workers_(std::make_unique<net::thread_pool>(
            static_cast<size_t>(limits.worker_threads))) {
    shared_.workers = workers_.get();
  }

  ~Impl() { Stop(); }

  Status Listen(const tcp::endpoint& endpoint, const std::string& listen) {
    error_code ec;
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on " + listen + ": " +
                                 ec.message());
    }
    return Status::Ok();
  }

  uint16_t port() const { return acceptor_->local_endpoint().port(); }

  void Run(std::unique_ptr<net::ssl::context> tls) {
    tls_ = std::move(tls);
    net::post(acceptor_->get_executor(), [this] { Accept(); });
    for (int i = 0; i < shared_.limits.io_threads; ++i) {
      threads_.emplace_back([this] { ioc_->run(); });
    }
  }

  void Stop() {
    if (threads_.empty()) return;
    shared_.stopping.store(true);
    std::promise<void> closed;
    net::post(acceptor_->get_executor(), [this, &closed] {
      error_code ignored;
      acceptor_->close(ignored);
      retry_->cancel();
      closed.set_value();
    });
    closed.get_future().wait();
    // Handlers in flight finish; the I/O threads still write their answers.
    workers_->join();
    work_.reset();
    ioc_->stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    // What is left holds connections: destroy it while their io_context
    // still exists, then the io_context.
    workers_.reset();
    retry_.reset();
    acceptor_.reset();
    ioc_.reset();
  }

 private:
  void Accept() {
    acceptor_->async_accept(net::make_strand(*ioc_),
                            [this](error_code ec, tcp::socket socket) {
                              OnAccept(ec, std::move(socket));
                            });
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec == net::error::connection_aborted) return Accept();
    if (ec) {
      // Out of file descriptors (EMFILE, ENFILE) or memory: the pending
      // connection waits in the backlog; try again shortly, do not spin.
      shared_.events.Note(HttpEvent::kAcceptFailed, ec.message());
      retry_->expires_after(std::chrono::milliseconds(100));
      retry_->async_wait([this](error_code wait) {
        if (!wait) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  }

  // Step 1 of http_server.h: the gate.
  void Admit(tcp::socket socket) {
    error_code ec;
    tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    std::string client = ClientKey(peer.address());
    ConnectionGate::Ticket ticket;
    ConnectionGate::Verdict verdict = shared_.gate.Admit(client, &ticket);
    if (verdict != ConnectionGate::Verdict::kAdmitted) {
      return RefuseAtOnce(std::move(socket), verdict, client);
    }
    socket.set_option(tcp::no_delay(true), ec);
    ServeConnection(std::move(socket), &shared_, std::move(ticket),
                    std::move(client), tls_.get());
  }

  // 503 written without waiting (a new socket's send buffer takes it
  // whole), then closed. Over TLS there is no one to tell before a
  // handshake: closed only.
  void RefuseAtOnce(tcp::socket socket, ConnectionGate::Verdict verdict,
                    const std::string& client) {
    const bool in_all = verdict == ConnectionGate::Verdict::kTooManyInAll;
    shared_.events.Note(in_all ? HttpEvent::kTooManyConnections
                               : HttpEvent::kTooManyConnectionsFromClient,
                        client);
    error_code ignored;
    if (tls_ == nullptr) {
      const std::string text =
          in_all
              ? "the server holds its maximum of " +
                    std::to_string(shared_.limits.max_connections) +
                    " connections; retry later"
              : "your address holds the maximum of " +
                    std::to_string(shared_.limits.max_connections_per_client) +
                    " connections to this server; close some (reuse "
                    "connections with keep-alive) and retry";
      const std::string bytes = ResponseBytes(
          shared_.handler->Refuse(503, "too_many_connections", text));
      socket.non_blocking(true, ignored);
      socket.write_some(net::buffer(bytes), ignored);
    }
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  HttpServerShared shared_;
  std::unique_ptr<net::ssl::context> tls_;  // null: plain HTTP
  std::unique_ptr<net::io_context> ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // on a strand, with retry_
  std::unique_ptr<net::steady_timer> retry_;
  std::unique_ptr<net::thread_pool> workers_;
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler* handler)
    : options_(std::move(options)), handler_(handler) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (impl_ != nullptr) return Status::FailedPrecondition("already started");
  Status limits = CheckLimits(options_.limits);
  if (!limits.ok()) return limits;
  StatusOr<HostPort> address =
      ParseHostPort(options_.listen, /*allow_zero=*/true);
  if (!address.ok()) return address.status();
  if (options_.tls_cert.empty() != options_.tls_key.empty()) {
    return Status::InvalidArgument(
        "--tls-cert and --tls-key go together: give both for HTTPS, or "
        "neither for plain HTTP",
        options_.tls_cert.empty() ? "tls-cert" : "tls-key");
  }
  std::unique_ptr<net::ssl::context> tls;
  if (!options_.tls_cert.empty()) {
    tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    Status loaded = LoadTlsContext(*tls, options_.tls_cert, options_.tls_key);
    if (!loaded.ok()) return loaded;
  }
  // A name ("localhost") is resolved once, here; the first address wins.
  net::io_context resolving;
  tcp::resolver resolver(resolving);
  error_code ec;
  auto found = resolver.resolve(address->host, std::to_string(address->port),
                                tcp::resolver::passive, ec);
  if (ec || found.empty()) {
    return Status::InvalidArgument("cannot resolve the host of " +
                                   options_.listen + ": " +
                                   (ec ? ec.message() : "no address"));
  }
  auto impl = std::make_unique<Impl>(options_.limits, handler_);
  Status bound = impl->Listen(found.begin()->endpoint(), options_.listen);
  if (!bound.ok()) return bound;
  port_ = impl->port();
  impl->Run(std::move(tls));
  impl_ = std::move(impl);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_ == nullptr) return;
  impl_->Stop();
  impl_.reset();
}

}  // namespace sluice
