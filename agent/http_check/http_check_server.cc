#include "agent/http_check/http_check_server.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include "agent/http_check/check_request.h"
#include "agent/http_check/check_response.h"
#include "platform/endpoint.h"
#include "platform/log.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;
using http_check::CheckError;
using http_check::Framing;

namespace {

constexpr std::string_view kLog = "agent.http_check";
// Bytes asked for per read.
constexpr size_t kReadChunk = 4096;
// After an answer that closes the connection: what the client still sends
// is read and dropped for this long, up to kLingerBytes.
constexpr int64_t kLingerMs = 1000;
constexpr size_t kLingerBytes = 64 * 1024;

CheckError Error(int status, std::string code, std::string message) {
  return CheckError{status, std::move(code), std::move(message), ""};
}

}  // namespace

// One client connection. Lives as long as an asynchronous operation holds
// it (shared_ptr) or the server lists it; once closed, its handlers return
// without touching the server.
class HttpCheckServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpCheckServer* server, uint64_t id, tcp::socket socket)
      : server_(server),
        id_(id),
        stream_(std::move(socket)),
        header_timer_(stream_.get_executor()),
        buffer_(server->options_.max_header_bytes + kReadChunk) {}

  void Start() { WaitForRequest(); }

  void Close() {
    if (closed_) return;
    closed_ = true;
    header_timer_.cancel();
    stream_.close();
    server_->Forget(id_);
  }

 private:
  const HttpCheckOptions& options() const { return server_->options_; }

  // Between requests: bytes already read (pipelined) start the next one
  // at once; otherwise wait up to idle_timeout_ms for its first byte.
  void WaitForRequest() {
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    stream_.expires_after(std::chrono::milliseconds(options().idle_timeout_ms));
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this()](const error_code& ec, size_t n) {
          if (self->closed_) return;
          if (ec) {
            self->Close();  // idle timeout, or the client left
            return;
          }
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  // The header's deadline is a timer of its own, which cancels the read:
  // the stream's own timeout would close the socket, and the client
  // deserves a 408 saying why.
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(options().max_header_bytes));
    stream_.expires_never();
    header_timed_out_ = false;
    const uint64_t read = ++header_reads_;
    header_timer_.expires_after(
        std::chrono::milliseconds(options().header_timeout_ms));
    header_timer_.async_wait(
        [self = shared_from_this(), read](const error_code& ec) {
          // (A late timer of an earlier read that completed: nothing.)
          if (ec || self->closed_ || self->header_reads_ != read) return;
          self->header_timed_out_ = true;
          error_code ignored;
          self->stream_.socket().cancel(ignored);
        });
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& ec, size_t) {
          self->header_timer_.cancel();
          ++self->header_reads_;
          if (!self->closed_) self->OnHeader(ec);
        });
  }

  void OnHeader(const error_code& ec) {
    if (header_timed_out_ && ec) {
      ReplyAndClose(
          Error(408, "request_timeout",
                "the request header did not arrive within " +
                    std::to_string(options().header_timeout_ms) +
                    " ms: send the request line and header fields together"));
    } else if (ec == http::error::end_of_stream || ec == asio::error::eof ||
               ec == asio::error::connection_reset) {
      Close();
    } else if (ec == http::error::header_limit ||
               ec == http::error::buffer_overflow) {
      ReplyAndClose(Error(400, "header_too_large",
                          "the request line and header fields are over " +
                              std::to_string(options().max_header_bytes) +
                              " bytes: keep the URL under " +
                              std::to_string(http_check::kMaxTargetBytes) +
                              " bytes and send few header fields"));
    } else if (ec) {
      ReplyAndClose(Error(400, "malformed_request",
                          "malformed HTTP request (" + ec.message() +
                              "): send GET /v1/check/{domain}?key=value "
                              "HTTP/1.1"));
    } else {
      Handle();
    }
  }

  void Handle() {
    const auto& request = parser_->get();
    const bool head = request.method() == http::verb::head;
    const Framing framing{request.keep_alive(), request.version() == 10, head};
    const auto length = parser_->content_length();
    if (parser_->chunked() || (length && *length > 0)) {
      ReplyAndClose(Error(400, "body_not_accepted",
                          "a check takes no body: send GET with the "
                          "descriptor in the query, "
                          "/v1/check/{domain}?key=value"));
      return;
    }
    out_.clear();
    if (request.method() != http::verb::get && !head) {
      CheckError error = Error(
          405, "method_not_allowed",
          "method " +
              http_check::Quoted(
                  std::string_view(request.method_string().data(),
                                   request.method_string().size())) +
              " is not allowed: a check is GET /v1/check/{domain}?key=value "
              "(nginx: proxy_method GET in the auth_request location)");
      http_check::AppendErrorResponse(error, framing, &out_,
                                      "Allow: GET, HEAD\r\n");
    } else {
      const auto target = request.target();
      server_->Answer(std::string_view(target.data(), target.size()), framing,
                      &out_);
    }
    Write(framing.keep_alive);
  }

  void ReplyAndClose(const CheckError& error) {
    out_.clear();
    http_check::AppendErrorResponse(error, Framing{false, false, false}, &out_);
    Write(false);
  }

  void Write(bool keep_alive) {
    stream_.expires_after(
        std::chrono::milliseconds(options().write_timeout_ms));
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = shared_from_this(), keep_alive](const error_code& ec, size_t) {
          if (self->closed_) return;
          if (ec) {
            self->Close();
            return;
          }
          if (!keep_alive) {
            self->Linger();
            return;
          }
          self->WaitForRequest();
        });
  }

  // Half-closes, then drops what the client still sends until it closes
  // too, kLingerMs pass or kLingerBytes were read.
  void Linger() {
    if (!lingering_) {
      lingering_ = true;
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.expires_after(std::chrono::milliseconds(kLingerMs));
      buffer_.consume(buffer_.size());
    }
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this()](const error_code& ec, size_t n) {
          if (self->closed_) return;
          self->lingered_ += n;
          if (ec || self->lingered_ > kLingerBytes) {
            self->Close();
            return;
          }
          self->buffer_.consume(self->buffer_.size());
          self->Linger();
        });
  }

  HttpCheckServer* server_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  asio::steady_timer header_timer_;
  uint64_t header_reads_ = 0;  // changes when a header read starts or ends
  bool header_timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::string out_;
  bool lingering_ = false;
  size_t lingered_ = 0;
  bool closed_ = false;
};

HttpCheckServer::HttpCheckServer(const FrontDoorContext& context,
                                 HttpCheckOptions options)
    : context_(context), options_(std::move(options)) {}

HttpCheckServer::~HttpCheckServer() { Stop(); }

FrontDoorFactory HttpCheckServer::Factory(HttpCheckOptions options) {
  return [options](const FrontDoorContext& context) {
    return std::make_unique<HttpCheckServer>(context, options);
  };
}

Status HttpCheckServer::Start() {
  StatusOr<HostPort> hp = ParseHostPort(options_.address, /*allow_zero=*/true);
  if (!hp.ok()) {
    return Status::InvalidArgument("--http-check: " + hp.status().message());
  }
  error_code ec;
  tcp::endpoint endpoint;
  const asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, hp->port);
  } else {
    tcp::resolver resolver(*context_.io);
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument(
          "--http-check: cannot resolve host '" + hp->host +
          "': give an IP address such as 127.0.0.1 or ::1");
    }
    endpoint = results.begin()->endpoint();
  }
  if (!IsLoopbackHost(hp->host) && !endpoint.address().is_loopback()) {
    LogWarn(kLog, "listening on non-loopback " + options_.address +
                      ": the HTTP check has no authentication, anyone who "
                      "can reach it can take tokens");
  }
  auto acceptor = std::make_unique<tcp::acceptor>(*context_.io);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on --http-check " +
                               options_.address + ": " + ec.message() +
                               "; choose another HOST:PORT");
  }
  port_ = acceptor->local_endpoint(ec).port();
  acceptor_ = std::move(acceptor);
  retry_timer_ = std::make_unique<asio::steady_timer>(*context_.io);
  Accept();
  return Status::Ok();
}

void HttpCheckServer::Accept() {
  acceptor_->async_accept([this, alive = std::weak_ptr<char>(alive_)](
                              const error_code& ec, tcp::socket socket) {
    if (alive.expired() || ec == asio::error::operation_aborted || stopped_) {
      return;
    }
    if (ec) {
      // Out of descriptors, usually: wait a little instead of spinning.
      LogWarn(kLog, "accept failed: " + ec.message() + "; retrying in 100 ms");
      retry_timer_->expires_after(std::chrono::milliseconds(100));
      retry_timer_->async_wait([this, alive](const error_code& e) {
        if (!e && !alive.expired() && !stopped_) Accept();
      });
      return;
    }
    if (sessions_.size() >= options_.max_connections) {
      std::string full;
      http_check::AppendErrorResponse(
          Error(503, "too_many_connections",
                "this agent already serves " +
                    std::to_string(options_.max_connections) +
                    " HTTP check connections: reuse connections (keep-alive)"
                    " or retry later"),
          Framing{false, false, false}, &full, "Retry-After: 1\r\n");
      error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(full), ignored);
      socket.close(ignored);
    } else {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const uint64_t id = next_id_++;
      auto session = std::make_shared<Session>(this, id, std::move(socket));
      sessions_.emplace(id, session);
      session->Start();
    }
    Accept();
  });
}

void HttpCheckServer::Forget(uint64_t id) { sessions_.erase(id); }

void HttpCheckServer::Answer(std::string_view target, const Framing& framing,
                             std::string* out) {
  http_check::CheckQuery query;
  CheckError error;
  if (!http_check::ParseCheckTarget(target, &query, &error)) {
    http_check::AppendErrorResponse(error, framing, out);
    return;
  }
  scratch_.clear();
  for (const auto& [key, value] : query.pairs)
    scratch_.emplace_back(key, value);
  Decision decision;
  Checker& checker = *context_.checker;
  if (checker.Check(query.domain, query.cost, scratch_,
                    context_.clock->NowNanos(),
                    &decision) == Checker::Result::kBucketLimit) {
    http_check::AppendErrorResponse(
        Error(503, "bucket_limit",
              "bucket limit reached: this agent already holds " +
                  std::to_string(checker.table().max_buckets()) +
                  " buckets, the cap set by --max-buckets "
                  "(SLUICE_MAX_BUCKETS); raise --max-buckets, or retry once "
                  "idle buckets have been evicted"),
        framing, out, "Retry-After: 1\r\n");
  } else {
    const Rule* rule = decision.rule_id != 0
                           ? checker.rules()->Find(decision.rule_id)
                           : nullptr;
    http_check::AppendDecisionResponse(decision, rule, framing, out);
  }
  if (context_.on_checked) context_.on_checked();
}

void HttpCheckServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (retry_timer_) retry_timer_->cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, session] : sessions) session->Close();
}

std::string HttpCheckServer::Describe() const {
  return "http_check=" + options_.address + " (port " + std::to_string(port_) +
         ")";
}

}  // namespace sluice
