#include "platform/http/http_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "platform/http/beast_response.h"
#include "platform/http/pace.h"
#include "platform/http/request_parser.h"

namespace sluice {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using beast::error_code;
using Clock = std::chrono::steady_clock;

int64_t ToMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}
Clock::time_point FromMs(int64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}

bool IsHttpError(const error_code& ec) {
  static const error_code kSample = http::error::bad_method;
  return ec.category() == kSample.category();
}

// The connection's states follow the steps of http_server.h; each method
// starts one asynchronous operation (with its deadline set on the TCP
// layer: beast::tcp_stream closes the socket when it passes) and its
// completion handler moves to the next.
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... StreamArgs>
  Connection(HttpServerShared* shared, ConnectionGate::Ticket ticket,
             std::string client, StreamArgs&&... stream_args)
      : shared_(shared),
        limits_(shared->limits),
        ticket_(std::move(ticket)),
        client_(std::move(client)),
        stream_(std::forward<StreamArgs>(stream_args)...),
        buffer_(limits_.max_header_bytes) {}

  void Start() {
    if constexpr (kTls) {
      Tcp().expires_after(std::chrono::milliseconds(limits_.header_timeout_ms));
      stream_.async_handshake(
          net::ssl::stream_base::server,
          beast::bind_front_handler(&Connection::OnHandshake, Self()));
    } else {
      ReadHeader();
    }
  }

 private:
  std::shared_ptr<Connection> Self() { return this->shared_from_this(); }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        shared_->events.Note(HttpEvent::kHeaderTimeout, client_);
      }
      return Close();
    }
    ReadHeader();
  }

  // Step 3: the next request's header, within header_timeout_ms.
  void ReadHeader() {
    parser_.emplace(limits_);
    head_only_ = false;
    if (buffer_.size() == 0) buffer_.shrink_to_fit();  // idle: no memory
    Tcp().expires_after(std::chrono::milliseconds(limits_.header_timeout_ms));
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Connection::OnHeader, Self()));
  }

  void OnHeader(error_code ec, size_t) {
    if (ec) return OnHeaderError(ec);
    head_only_ = parser_->head().method == "HEAD";
    if (shared_->stopping.load()) {
      return Refuse(503, "unavailable",
                    "the server is stopping; retry in a moment");
    }
    // Step 4: may this request send its body?
    std::optional<HttpResponse> refusal =
        shared_->handler->Admit(parser_->head());
    if (refusal.has_value()) {
      const bool keep_alive =
          parser_->keep_alive() && !parser_->announces_body();
      return Send(std::move(*refusal), keep_alive);
    }
    boost::optional<std::uint64_t> length = parser_->content_length();
    if (length.has_value() && *length > limits_.max_body_bytes) {
      return RefuseBodyTooLarge();
    }
    parser_->AllowBody(limits_.max_body_bytes);
    body_start_ms_ = ToMs(Clock::now());
    if (parser_->expects_continue() && !parser_->is_done()) {
      return SendContinue();
    }
    ReadBody();
  }

  void OnHeaderError(error_code ec) {
    if (ec == beast::error::timeout) {
      // A connection idle between requests ends quietly; one that began a
      // request and did not finish it is worth a line.
      if (parser_->got_some() || buffer_.size() > 0) {
        shared_->events.Note(HttpEvent::kHeaderTimeout, client_);
      }
      return Close();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      shared_->events.Note(HttpEvent::kHeaderTooLarge, client_);
      return RefuseHeaderTooLarge();
    }
    if (IsHttpError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      shared_->events.Note(HttpEvent::kMalformed, client_);
      return Refuse(400, "bad_request",
                    "the request is not valid HTTP/1.1 (" + ec.message() +
                        "); send a request line, header fields and a blank "
                        "line, e.g. \"GET /healthz HTTP/1.1\\r\\nHost: "
                        "x\\r\\n\\r\\n\"");
    }
    Close();  // the client closed or reset the connection
  }

  void RefuseHeaderTooLarge() {
    const RequestParser::Problem problem = parser_->problem();
    if (problem == RequestParser::Problem::kTargetTooLong ||
        problem == RequestParser::Problem::kRequestLineTooLong) {
      return Refuse(414, "uri_too_long",
                    "the request target is longer than " +
                        std::to_string(limits_.max_target_bytes) +
                        " bytes; send a shorter path and query");
    }
    Refuse(431, "header_too_large",
           "the request header is over " +
               std::to_string(limits_.max_header_bytes) + " bytes or " +
               std::to_string(limits_.max_header_fields) +
               " fields; send fewer or shorter header fields");
  }

  void RefuseBodyTooLarge() {
    shared_->events.Note(HttpEvent::kBodyTooLarge, client_);
    Refuse(413, "body_too_large",
           "the request body is over the limit of " +
               std::to_string(limits_.max_body_bytes) +
               " bytes (1 MiB); send a smaller document (a rule is a few "
               "hundred bytes)");
  }

  void SendContinue() {
    auto reply = std::make_shared<http::response<http::empty_body>>(
        http::status::continue_, parser_->version());
    Tcp().expires_after(std::chrono::milliseconds(limits_.header_timeout_ms));
    http::async_write(stream_, *reply,
                      [self = Self(), reply](error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadBody();
                      });
  }

  // Step 5: the body, at min_bytes_per_second after the grace.
  void ReadBody() {
    if (parser_->is_done()) return Dispatch();
    const int64_t deadline = BodyDeadlineMs(
        body_start_ms_, parser_->body_bytes(), ToMs(Clock::now()),
        limits_.header_timeout_ms, limits_.min_bytes_per_second);
    Tcp().expires_at(FromMs(deadline));
    http::async_read_some(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Connection::OnBody, Self()));
  }

  void OnBody(error_code ec, size_t) {
    if (ec == http::error::body_limit) return RefuseBodyTooLarge();
    if (ec == beast::error::timeout) {
      shared_->events.Note(HttpEvent::kBodyTooSlow, client_);
      return Close();
    }
    if (ec && IsHttpError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      shared_->events.Note(HttpEvent::kMalformed, client_);
      return Refuse(400, "bad_request",
                    "the request body is not valid HTTP/1.1 framing (" +
                        ec.message() +
                        "); send Content-Length and that many bytes, or "
                        "a correct chunked body");
    }
    if (ec) return Close();
    ReadBody();
  }

  // Step 6: the handler, on a worker thread; the answer comes back here.
  void Dispatch() {
    if (shared_->stopping.load()) {
      return Refuse(503, "unavailable",
                    "the server is stopping; retry in a moment");
    }
    const bool keep_alive = parser_->keep_alive();
    HttpRequest request = parser_->TakeRequest();
    net::post(*shared_->workers, [self = Self(), keep_alive,
                                  request = std::move(request)]() {
      HttpResponse response;
      try {
        response = self->shared_->handler->Handle(request);
      } catch (const std::exception& e) {  // a broken handler, not a client
        response = self->shared_->handler->Refuse(
            500, "internal", std::string("internal error: ") + e.what());
      }
      net::post(self->stream_.get_executor(),
                [self, keep_alive, response = std::move(response)]() mutable {
                  self->Send(std::move(response), keep_alive);
                });
    });
  }

  // The server's own refusal: the handler's error body, then close.
  void Refuse(int status, const std::string& code, const std::string& text) {
    Send(shared_->handler->Refuse(status, code, text), /*keep_alive=*/false);
  }

  // Step 6, writing: at min_bytes_per_second after the grace.
  void Send(HttpResponse response, bool keep_alive) {
    const unsigned version =
        parser_.has_value() ? static_cast<unsigned>(parser_->version()) : 11;
    response_.emplace(
        ToBeastResponse(std::move(response), version, keep_alive, head_only_));
    constexpr uint64_t kHeaderAllowance = 1024;
    Tcp().expires_at(FromMs(WriteDeadlineMs(
        ToMs(Clock::now()), response_->body().size() + kHeaderAllowance,
        limits_.header_timeout_ms, limits_.min_bytes_per_second)));
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Connection::OnSent, Self(), keep_alive));
  }

  void OnSent(bool keep_alive, error_code ec, size_t) {
    response_.reset();
    if (ec) {
      if (ec == beast::error::timeout) {
        shared_->events.Note(HttpEvent::kResponseNotRead, client_);
      }
      return Close();
    }
    if (keep_alive) return ReadHeader();  // step 7
    Linger();
  }

  // Step 7, closing: read and discard what the client still sends (a body
  // that was refused) for a while, so it reads the answer, not a reset.
  void Linger() {
    if constexpr (!kTls) {
      error_code ignored;
      stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    }
    buffer_.clear();
    Tcp().expires_after(std::chrono::milliseconds(limits_.linger_ms));
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(
        buffer_.prepare(buffer_.max_size()),
        beast::bind_front_handler(&Connection::OnDrained, Self()));
  }

  void OnDrained(error_code ec, size_t bytes) {
    lingered_ += bytes;
    if (ec || lingered_ >= limits_.linger_bytes) return Close();
    DrainSome();
  }

  void Close() {
    error_code ignored;
    Tcp().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  HttpServerShared* const shared_;
  const HttpLimits& limits_;
  ConnectionGate::Ticket ticket_;  // given back when the connection ends
  const std::string client_;
  Stream stream_;
  beast::flat_buffer buffer_;  // at most max_header_bytes
  std::optional<RequestParser> parser_;
  std::optional<http::response<http::string_body>> response_;
  int64_t body_start_ms_ = 0;
  bool head_only_ = false;
  size_t lingered_ = 0;
};

}  // namespace

void ServeConnection(net::ip::tcp::socket socket, HttpServerShared* shared,
                     ConnectionGate::Ticket ticket, std::string client,
                     net::ssl::context* tls) {
  if (tls != nullptr) {
    using Tls = beast::ssl_stream<beast::tcp_stream>;
    std::make_shared<Connection<Tls>>(
        shared, std::move(ticket), std::move(client), std::move(socket), *tls)
        ->Start();
  } else {
    std::make_shared<Connection<beast::tcp_stream>>(
        shared, std::move(ticket), std::move(client), std::move(socket))
        ->Start();
  }
}

}  // namespace sluice
