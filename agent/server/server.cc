#include "agent/server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/endpoint.h"
#include "platform/log.h"

namespace sluice {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view kLog = "agent.server";
// The sweep for a client's end of input that came with its last bytes
// (Connection::CheckEof): how late the server may close after such a
// client.
constexpr int kEofSweepMs = 20;

}  // namespace

Server::Server(asio::io_context* io, ServerOptions options,
               CommandHandler* handler, const Clock* clock)
    : io_(io),
      options_(std::move(options)),
      handler_(handler),
      clock_(clock),
      accept_retry_timer_(std::make_unique<asio::steady_timer>(*io)),
      eof_timer_(std::make_unique<asio::steady_timer>(*io)) {
  connection_env_.io = io_;
  connection_env_.options = &options_;
  connection_env_.handler = handler_;
  connection_env_.clock = clock_;
  connection_env_.owner = this;
}

Server::~Server() {
  Stop();
  // A wait cancelled by Stop() stays queued in the io_context, which
  // outlives the server, with its memory in eof_timer_memory_: leave that
  // block (a few hundred bytes, once) rather than free it under the wait.
  if (!eof_timer_armed_) delete eof_timer_memory_;
}

Status Server::Start() {
  if (options_.socket_path.empty() && options_.tcp.empty()) {
    return Status::InvalidArgument(
        "nothing to listen on: give --socket PATH and/or --tcp HOST:PORT");
  }
  if (!options_.socket_path.empty()) {
    Status status = ListenUnix();
    if (!status.ok()) return status;
  }
  if (!options_.tcp.empty()) {
    Status status = ListenTcp();
    if (!status.ok()) {
      Stop();
      return status;
    }
  }
  return Status::Ok();
}

Status Server::ListenUnix() {
  const std::string& path = options_.socket_path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument(
        "socket path '" + path + "' is " + std::to_string(path.size()) +
        " bytes long; Unix socket paths must be shorter than " +
        std::to_string(sizeof(sockaddr_un{}.sun_path)) +
        ": choose a shorter --socket");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::FailedPrecondition(
          "'" + path +
          "' exists and is not a socket: remove it or choose another "
          "--socket");
    }
    asio::local::stream_protocol::socket probe(*io_);
    error_code ec;
    probe.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) {
      return Status::FailedPrecondition(
          "another process is listening on '" + path +
          "' (another sluice-agent?): stop it or choose another --socket");
    }
    if (::unlink(path.c_str()) != 0) {
      return Status::FailedPrecondition("cannot remove the stale socket '" +
                                        path + "': " + std::strerror(errno) +
                                        "; remove it by hand");
    }
    LogInfo(kLog, "removed stale socket file " + path);
  }
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::stat(dir.c_str(), &st) != 0) {
      if (::mkdir(dir.c_str(), 0750) != 0) {
        return Status::FailedPrecondition(
            "the socket's directory '" + dir +
            "' does not exist and cannot "
            "be created (" +
            std::strerror(errno) + "): create it or choose another --socket");
      }
      LogInfo(kLog, "created directory " + dir);
    }
  }

  const asio::generic::stream_protocol::endpoint endpoint(
      asio::local::stream_protocol::endpoint{path});
  auto acceptor = std::make_unique<Acceptor>(*io_);
  error_code ec;
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (ec) {
    return Status::Unavailable("cannot bind the Unix socket '" + path +
                               "': " + ec.message() +
                               "; check the directory's permissions or "
                               "choose another --socket");
  }
  socket_file_created_ = true;
  if (::stat(path.c_str(), &st) == 0) socket_inode_ = st.st_ino;
  if (::chmod(path.c_str(), 0660) != 0) {
    LogWarn(kLog,
            "cannot set mode 0660 on " + path + ": " + std::strerror(errno));
  }
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on '" + path +
                               "': " + ec.message());
  }
  unix_acceptor_ = std::move(acceptor);
  Accept(unix_acceptor_.get());
  return Status::Ok();
}

Status Server::ListenTcp() {
  StatusOr<HostPort> hp = ParseHostPort(options_.tcp, /*allow_zero=*/true);
  if (!hp.ok()) {
    return Status::InvalidArgument("--tcp: " + hp.status().message());
  }
  error_code ec;
  asio::ip::tcp::endpoint tcp_endpoint;
  const asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (!ec) {
    tcp_endpoint = asio::ip::tcp::endpoint(address, hp->port);
  } else {
    asio::ip::tcp::resolver resolver(*io_);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument(
          "--tcp: cannot resolve host '" + hp->host +
          "': give an IP address such as 127.0.0.1 or ::1");
    }
    tcp_endpoint = results.begin()->endpoint();
  }
  if (!tcp_endpoint.address().is_loopback()) {
    LogWarn(kLog, "listening on non-loopback " + options_.tcp +
                      ": RESP has no authentication, anyone who can reach "
                      "it can take tokens");
  }
  const asio::generic::stream_protocol::endpoint endpoint(tcp_endpoint);
  auto acceptor = std::make_unique<Acceptor>(*io_);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on TCP " + options_.tcp + ": " +
                               ec.message() +
                               "; choose another --tcp HOST:PORT");
  }
  sockaddr_storage bound;
  socklen_t len = sizeof(bound);
  if (::getsockname(acceptor->native_handle(),
                    reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    if (bound.ss_family == AF_INET) {
      tcp_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    } else if (bound.ss_family == AF_INET6) {
      tcp_port_ = ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }
  }
  tcp_acceptor_ = std::move(acceptor);
  Accept(tcp_acceptor_.get());
  return Status::Ok();
}

void Server::Accept(Acceptor* acceptor) {
  acceptor->async_accept([this, acceptor](const error_code& ec,
                                          Connection::Socket socket) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, usually: wait a little instead of spinning.
      LogWarn(kLog, "accept failed: " + ec.message() + "; retrying in 100 ms");
      accept_retry_timer_->expires_after(std::chrono::milliseconds(100));
      accept_retry_timer_->async_wait([this, acceptor](const error_code& e) {
        if (!e && !stopped_) Accept(acceptor);
      });
      return;
    }
    Admit(acceptor, std::move(socket));
    Accept(acceptor);
  });
}

// Starts a Connection on a new socket, or refuses it when full.
void Server::Admit(Acceptor* acceptor, Connection::Socket socket) {
  if (connections_.size() >= options_.max_connections) {
    static constexpr std::string_view kFull =
        "-ERR max number of clients reached\r\n";
    error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(kFull.data(), kFull.size()), ignored);
    socket.close(ignored);
    return;
  }
  if (acceptor == tcp_acceptor_.get()) {
    error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  const uint64_t id = next_id_++;
  auto connection =
      std::make_shared<Connection>(connection_env_, id, std::move(socket));
  connections_.emplace(id, connection);
  connection->Start();
}

void Server::Forget(uint64_t id) { connections_.erase(id); }

void Server::NeedsEofCheck() {
  if (eof_timer_armed_ || stopped_) return;
  eof_timer_armed_ = true;
  eof_timer_->expires_after(std::chrono::milliseconds(kEofSweepMs));
  eof_timer_->async_wait(
      WithMemory(eof_timer_memory_, [this](const error_code& ec) {
        if (ec) return;  // cancelled: the server stops
        eof_timer_armed_ = false;
        SweepEof();
      }));
}

// Runs while connections keep reading (one timer for all of them, not one
// per request), and stops once every quiet connection was checked.
void Server::SweepEof() {
  if (stopped_) return;
  bool due = false;
  // A check closes at most its own connection (erasing only that entry)
  // and opens none: step past an entry before checking it.
  for (auto it = connections_.begin(); it != connections_.end();) {
    const std::shared_ptr<Connection> connection = it->second;
    ++it;
    due |= connection->CheckEof();
  }
  if (due) NeedsEofCheck();
}

void Server::RanRequests() {
  if (on_batch_) on_batch_();
}

void Server::Ready(Connection* connection) {
  if (stopped_) return;
  // Parse the requests read and prepare their checks, so that their
  // memory loads overlap, then run them and answer.
  batch_.Clear();
  connection->ParseAhead(&batch_);
  handler_->PrepareDone();
  connection->ProcessRead(batch_, clock_->NowNanos());
  handler_->ClearPrepared();
  if (on_batch_) on_batch_();
}

void Server::Stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ec;
  if (unix_acceptor_) unix_acceptor_->close(ec);
  if (tcp_acceptor_) tcp_acceptor_->close(ec);
  accept_retry_timer_->cancel();
  eof_timer_->cancel();
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [id, connection] : connections) connection->Close();
  if (socket_file_created_) {
    // Only our own socket: a successor agent may have replaced it.
    struct stat st;
    if (::lstat(options_.socket_path.c_str(), &st) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_ino == socket_inode_) {
      ::unlink(options_.socket_path.c_str());
    }
    socket_file_created_ = false;
  }
}

}  // namespace sluice
