#include "agent/server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "agent/server/handler_memory.h"
#include "agent/resp/resp_writer.h"
#include "platform/endpoint.h"
#include "platform/log.h"

namespace sluice {

namespace asio = boost::asio;
using boost::system::error_code;
using GenericSocket = asio::generic::stream_protocol::socket;

namespace {

constexpr std::string_view kLog = "agent.server";
// Read at least this much per read call.
constexpr size_t kMinReadRoom = 4096;
// Requests parsed ahead per group of Server::Drain(), across connections
// (about Checker::kMaxPrepared: beyond it checks are simply not
// prefetched), and the size of a group: enough requests to keep
// Checker::kPrefetchAhead loads in flight, few enough to answer early.
constexpr size_t kMaxAhead = 1024;
constexpr size_t kDrainGroup = 64;
// Buffers that grew past this are given back when they empty.
constexpr size_t kKeepCapacity = 64 * 1024;

}  // namespace

// One client connection. Lives as long as an asynchronous operation holds
// it (shared_ptr) or the server lists it.
class Server::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server* server, uint64_t id, GenericSocket socket)
      : server_(server),
        id_(id),
        socket_(std::move(socket)),
        parser_(server->options_.parser),
        in_(std::max(server->options_.read_buffer_bytes, kMinReadRoom)),
        timer_(*server->io_) {}

  void Start() { Read(); }

  // Server::Drain(), first pass: parses the complete requests read so far
  // ahead of running them, into the server's batch, and prepares them
  // (CommandHandler::Prepare). Runs nothing.
  void ParseAhead() {
    ahead_next_ = ahead_end_ = server_->ahead_.size();
    if (closed_ || closing_ || waiting_) return;
    size_t pos = in_begin_;
    while (server_->ahead_.size() < kMaxAhead) {
      const RespParser::Result r =
          parser_.Next(std::string_view(in_.data() + pos, in_end_ - pos));
      pos += parser_.consumed();
      // An incomplete request stays in the parser, an error is sticky:
      // Process() meets either again once it reaches them.
      if (r != RespParser::Result::kRequest) break;
      const std::vector<std::string_view>& args = parser_.args();
      server_->ahead_.push_back(
          Ahead{server_->ahead_args_.size(), args.size(), pos});
      server_->ahead_args_.insert(server_->ahead_args_.end(), args.begin(),
                                  args.end());
      server_->handler_->Prepare(args);
    }
    ahead_end_ = server_->ahead_.size();
    ahead_resume_ = pos;
    // Nothing to run: drop what the parser skipped (empty requests) now,
    // as Process() would after the last request run.
    if (ahead_next_ == ahead_end_) in_begin_ = pos;
  }

  // Server::Drain(), second pass: runs what was read and answers it.
  void ProcessRead(int64_t now) {
    if (!closed_) {
      Process(now);
      if (!closed_) {
        Flush();
        Read();
      }
    }
    ahead_next_ = ahead_end_ = 0;
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ec;
    socket_.close(ec);
    server_->Forget(id_);
  }

 private:
  // True once a Unix-socket peer closed both directions (POLLHUP); a
  // half-closed peer (shutdown SHUT_WR) still reads. TCP cannot tell.
  bool PeerHungUp() {
    pollfd p{socket_.native_handle(), 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
  }

  bool OutputOverLimit() const {
    return out_.size() + writing_.size() > server_->options_.max_output_bytes;
  }

  // Makes room at the end of the read buffer; false if it cannot grow.
  bool EnsureRoom() {
    if (in_.size() - in_end_ >= kMinReadRoom) return true;
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
      if (in_.size() - in_end_ >= kMinReadRoom) return true;
    }
    // A partial request is never longer than the request limit (the parser
    // refuses it first), so this bound is never reached by a valid client.
    const size_t cap =
        server_->options_.parser.max_request_bytes + 2 * kMinReadRoom;
    if (in_.size() >= cap) return in_end_ < in_.size();
    in_.resize(std::min(cap, in_.size() * 2));
    return true;
  }

  // Reads on while an RL.ACQUIRE waits (the requests behind it are only
  // buffered), so that a client hanging up is noticed at once.
  void Read() {
    if (reading_ || closing_ || closed_) return;
    if (eof_) {
      // The client is done sending: once no RL.ACQUIRE waits, close after
      // the last reply. (Asio would not report the end a second time.)
      if (!waiting_) {
        closing_ = true;
        Flush();
      }
      return;
    }
    if (!EnsureRoom()) {
      if (waiting_) return;  // full behind an RL.ACQUIRE: read after it
      Fail("Protocol error: request larger than the buffer");
      return;
    }
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
        WithMemory(&read_memory_,
                   [self = shared_from_this()](const error_code& ec, size_t n) {
                     self->OnRead(ec, n);
                   }));
  }

  void OnRead(const error_code& ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      if (ec == asio::error::eof) {
        if (PeerHungUp()) {
          Close();  // nobody left to read the replies
        } else {
          eof_ = true;  // answer what it sent, then close
          Read();
        }
      } else {
        Close();
      }
      return;
    }
    in_end_ += n;
    // Run together with the other connections read in this round
    // (Server::Drain), so that their checks' memory loads overlap.
    server_->Ready(shared_from_this());
  }

  // Executes every complete request in the read buffer, in order.
  void Process(int64_t now) {
    // First the requests ParseAhead() parsed (in this Drain()), ...
    while (ahead_next_ < ahead_end_ && !waiting_ && !closing_) {
      const Ahead& a = server_->ahead_[ahead_next_++];
      // After the last one the parser continues where ParseAhead stopped.
      in_begin_ = ahead_next_ == ahead_end_ ? ahead_resume_ : a.end;
      if (!Run(RespArgs(server_->ahead_args_.data() + a.first_arg, a.arg_count),
               now)) {
        return;
      }
    }
    if (ahead_next_ < ahead_end_) {
      // Stopped early (an RL.ACQUIRE waits, or the client quit): the rest
      // is parsed again from in_begin_ when its turn comes.
      ahead_next_ = ahead_end_;
      parser_.Reset();
    }
    // ... then whatever else is in the buffer.
    while (!waiting_ && !closing_) {
      const RespParser::Result r = parser_.Next(
          std::string_view(in_.data() + in_begin_, in_end_ - in_begin_));
      in_begin_ += parser_.consumed();
      if (r == RespParser::Result::kIncomplete) break;
      if (r == RespParser::Result::kError) {
        AppendRespError(&out_, "ERR " + std::string(parser_.error()));
        closing_ = true;
        break;
      }
      if (!Run(RespArgs(parser_.args()), now)) return;
    }
    // (Not while a read is in flight: it lands at the old in_end_.)
    if (in_begin_ == in_end_ && !reading_) in_begin_ = in_end_ = 0;
  }

  // Executes one request; false when that dropped the connection.
  bool Run(RespArgs args, int64_t now) {
    const CommandHandler::Outcome outcome =
        server_->handler_->Execute(args, now, id_, &out_);
    if (outcome.action == CommandHandler::Action::kClose) {
      closing_ = true;
    } else if (outcome.action == CommandHandler::Action::kWait) {
      Wait(args, now, outcome);
    }
    if (OutputOverLimit()) {
      LogWarn(kLog, "dropping connection " + std::to_string(id_) + ": " +
                        std::to_string(out_.size() + writing_.size()) +
                        " bytes of replies unread, over the limit of " +
                        std::to_string(server_->options_.max_output_bytes) +
                        " (a client must read its replies)");
      Close();
      return false;
    }
    return true;
  }

  // Parks an RL.ACQUIRE: keeps its arguments (the read buffer moves on)
  // and wakes up at outcome.wake_at.
  void Wait(RespArgs args, int64_t now,
            const CommandHandler::Outcome& outcome) {
    waiting_ = true;
    wait_args_.assign(args.begin(), args.end());
    wait_views_.assign(wait_args_.begin(), wait_args_.end());
    wait_deadline_ = outcome.deadline;
    ArmTimer(now, outcome.wake_at);
  }

  void ArmTimer(int64_t now, int64_t wake_at) {
    timer_.expires_after(
        std::chrono::nanoseconds(std::max<int64_t>(0, wake_at - now)));
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      self->OnTimer(ec);
    });
  }

  void OnTimer(const error_code& ec) {
    if (ec || closed_) return;
    const int64_t now = server_->clock_->NowNanos();
    const CommandHandler::Outcome outcome = server_->handler_->ResumeAcquire(
        wait_views_, now, wait_deadline_, &out_);
    if (outcome.action == CommandHandler::Action::kWait) {
      ArmTimer(now, outcome.wake_at);
      return;
    }
    waiting_ = false;
    wait_views_.clear();
    wait_args_.clear();
    Process(now);  // requests pipelined behind the RL.ACQUIRE
    if (closed_) return;
    Flush();
    if (server_->on_batch_) server_->on_batch_();
    Read();
  }

  // Starts writing pending replies; closes once a closing connection has
  // nothing left to write.
  void Flush() {
    if (closed_ || writing_active_) return;
    if (!out_.empty()) {
      // Straight to the socket: one send(), no asynchronous operation to
      // allocate and complete (as Redis does) ...
      const size_t sent = SendNow();
      if (closed_) return;
      if (sent < out_.size()) {
        // ... and what the socket would not take yet, asynchronously.
        std::swap(out_, writing_);
        writing_active_ = true;
        asio::async_write(
            socket_,
            asio::buffer(writing_.data() + sent, writing_.size() - sent),
            WithMemory(&write_memory_, [self = shared_from_this()](
                                           const error_code& ec, size_t) {
              self->OnWrite(ec);
            }));
        return;
      }
      out_.clear();
      if (out_.capacity() > kKeepCapacity) std::string().swap(out_);
    }
    if (closing_ && !waiting_) {
      error_code ec;
      socket_.shutdown(asio::socket_base::shutdown_send, ec);
      Close();
    }
  }

  // Sends what it can of out_ without blocking; closes the connection on
  // an error other than a full socket buffer. Returns the bytes sent.
  size_t SendNow() {
    for (;;) {
      const ssize_t n = ::send(socket_.native_handle(), out_.data(),
                               out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Close();
      return 0;
    }
  }

  void OnWrite(const error_code& ec) {
    writing_active_ = false;
    if (closed_) return;
    if (ec) {
      Close();
      return;
    }
    writing_.clear();
    if (writing_.capacity() > kKeepCapacity) std::string().swap(writing_);
    Flush();
  }

  // Replies with an error and closes once it is written.
  void Fail(std::string_view message) {
    AppendRespError(&out_, "ERR " + std::string(message));
    closing_ = true;
    Flush();
  }

  Server* server_;
  const uint64_t id_;
  // The pending read's and write's memory: a read after every request
  // allocates nothing. Declared before socket_, so that they outlive any
  // operation the socket's destruction cancels.
  HandlerMemory read_memory_;
  HandlerMemory write_memory_;
  GenericSocket socket_;
  RespParser parser_;
  // Unconsumed input is in_[in_begin_, in_end_).
  std::vector<char> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::string out_;      // replies not yet handed to the socket
  std::string writing_;  // replies being written
  // This connection's requests in the server's batch (ParseAhead):
  // server_->ahead_[ahead_next_, ahead_end_) are still to run; the parser
  // continues at ahead_resume_ after them.
  size_t ahead_next_ = 0;
  size_t ahead_end_ = 0;
  size_t ahead_resume_ = 0;
  bool reading_ = false;
  bool writing_active_ = false;
  bool closing_ = false;  // no more requests; close after the last write
  bool eof_ = false;      // the client shut down its sending side
  bool closed_ = false;
  // A parked RL.ACQUIRE.
  asio::steady_timer timer_;
  bool waiting_ = false;
  std::vector<std::string> wait_args_;
  std::vector<std::string_view> wait_views_;
  int64_t wait_deadline_ = 0;
};

Server::Server(asio::io_context* io, ServerOptions options,
               CommandHandler* handler, const Clock* clock)
    : io_(io),
      options_(std::move(options)),
      handler_(handler),
      clock_(clock),
      accept_retry_timer_(std::make_unique<asio::steady_timer>(*io)) {}

Server::~Server() { Stop(); }

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
                                          GenericSocket socket) {
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
    if (connections_.size() >= options_.max_connections) {
      static constexpr std::string_view kFull =
          "-ERR max number of clients reached\r\n";
      error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kFull.data(), kFull.size()), ignored);
      socket.close(ignored);
    } else {
      if (acceptor == tcp_acceptor_.get()) {
        error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      }
      const uint64_t id = next_id_++;
      auto connection =
          std::make_shared<Connection>(this, id, std::move(socket));
      connections_.emplace(id, connection);
      connection->Start();
    }
    Accept(acceptor);
  });
}

void Server::Forget(uint64_t id) { connections_.erase(id); }

void Server::Ready(std::shared_ptr<Connection> connection) {
  ready_.push_back(std::move(connection));
  if (drain_posted_) return;
  drain_posted_ = true;
  // Posted: the reads completed in this round of the event loop are
  // queued before it, so it sees all of them. (The token: a server
  // destroyed meanwhile is not touched.)
  asio::post(*io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) Drain();
  });
}

void Server::Drain() {
  drain_posted_ = false;
  if (stopped_) {
    ready_.clear();
    return;
  }
  draining_.swap(ready_);
  const int64_t now = clock_->NowNanos();
  // In groups of connections holding about kDrainGroup requests: parse
  // them and prepare their checks, so that the memory loads of the whole
  // group overlap, then run them connection by connection and answer. (One
  // group for everything would hold back the first replies, and the
  // client, until every connection was prepared.)
  for (size_t first = 0; first < draining_.size();) {
    ahead_.clear();
    ahead_args_.clear();
    size_t end = first;
    while (end < draining_.size() && ahead_.size() < kDrainGroup) {
      draining_[end++]->ParseAhead();
    }
    handler_->PrepareDone();
    for (size_t i = first; i < end; ++i) draining_[i]->ProcessRead(now);
    handler_->ClearPrepared();
    first = end;
  }
  draining_.clear();
  if (on_batch_) on_batch_();
}

void Server::Stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ec;
  if (unix_acceptor_) unix_acceptor_->close(ec);
  if (tcp_acceptor_) tcp_acceptor_->close(ec);
  accept_retry_timer_->cancel();
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
