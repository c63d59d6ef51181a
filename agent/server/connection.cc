#include "agent/server/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "agent/resp/resp_writer.h"
#include "platform/log.h"

namespace sluice {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view kLog = "agent.server";
// Read at least this much per read call.
constexpr size_t kMinReadRoom = 4096;
// Reads of one connection in a row (each filling the buffer) before the
// others get their turn.
constexpr int kMaxReadsPerTurn = 4;

}  // namespace

Connection::Connection(const ConnectionEnv& env, uint64_t id, Socket socket)
    : env_(env),
      id_(id),
      socket_(std::move(socket)),
      parser_(env.options->parser),
      in_(std::max(env.options->read_buffer_bytes, kMinReadRoom)),
      timer_(*env.io) {}

void Connection::ParseAhead(RequestBatch* batch) {
  ahead_next_ = ahead_end_ = batch->size();
  if (closed_ || closing_ || waiting_) return;
  size_t pos = in_begin_;
  while (!batch->full()) {
    const RespParser::Result r =
        parser_.Next(std::string_view(in_.data() + pos, in_end_ - pos));
    pos += parser_.consumed();
    // An incomplete request stays in the parser, an error is sticky:
    // Process() meets either again once it reaches them.
    if (r != RespParser::Result::kRequest) break;
    batch->Add(parser_.args(), pos);
    env_.handler->Prepare(RespArgs(parser_.args()));
  }
  ahead_end_ = batch->size();
  ahead_resume_ = pos;
  // Nothing to run: drop what the parser skipped (empty requests) now,
  // as Process() would after the last request run.
  if (ahead_next_ == ahead_end_) in_begin_ = pos;
}

void Connection::ProcessRead(const RequestBatch& batch, int64_t now) {
  if (!closed_) {
    Process(&batch, now);
    Flush();
  }
  ahead_next_ = ahead_end_ = 0;
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  error_code ec;
  socket_.close(ec);
  env_.owner->Forget(id_);
}

// True once a Unix-socket peer closed both directions (POLLHUP); a
// half-closed peer (shutdown SHUT_WR) still reads. TCP cannot tell.
bool Connection::PeerHungUp() {
  pollfd p{socket_.native_handle(), 0, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

// Makes room at the end of the read buffer; false if it cannot grow.
bool Connection::EnsureRoom() {
  if (in_.size() - in_end_ >= kMinReadRoom) return true;
  if (in_begin_ > 0) {
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
    if (in_.size() - in_end_ >= kMinReadRoom) return true;
  }
  // A partial request is never longer than the request limit (the parser
  // refuses it first), so this bound is never reached by a valid client.
  const size_t cap = env_.options->parser.max_request_bytes + 2 * kMinReadRoom;
  if (in_.size() >= cap) return in_end_ < in_.size();
  in_.resize(std::min(cap, in_.size() * 2));
  return true;
}

// Reads and runs what the socket holds, then waits for more. Reads on
// while an RL.ACQUIRE waits (the requests behind it are only buffered),
// so that a client hanging up is noticed at once.
//
// System calls: a read that returned less than the room it had emptied
// the socket, so the next read waits for readiness (ReadinessWait: queued
// before the event loop polls again, so no edge is missed) instead of
// trying, and failing with EAGAIN, first. The requests read run at once,
// their replies written by one send.
void Connection::Pump() {
  if (pumping_) return;  // a request run from here closed or resumed us
  pumping_ = true;
  for (int reads = 0; !closing_ && !closed_;) {
    if (eof_) {
      // The client is done sending: once no RL.ACQUIRE waits, close after
      // the last reply.
      if (!waiting_) {
        closing_ = true;
        Flush();
      }
      break;
    }
    if (!EnsureRoom()) {
      // Full behind an RL.ACQUIRE: read after it.
      if (!waiting_) Fail("Protocol error: request larger than the buffer");
      break;
    }
    if (!readable_) {
      ArmWait();
      break;
    }
    if (reads++ == kMaxReadsPerTurn) {
      // Still more to read: let the other connections have their turn.
      asio::post(*env_.io, [self = shared_from_this()] { self->Pump(); });
      break;
    }
    const size_t room = in_.size() - in_end_;
    const ssize_t n = ::recv(socket_.native_handle(), in_.data() + in_end_,
                             room, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        readable_ = false;
        MarkUnconfirmed();
        continue;
      }
      Close();
      break;
    }
    if (n == 0) {
      if (PeerHungUp()) {
        Close();  // nobody left to read the replies
        break;
      }
      eof_ = true;  // answer what it sent, then close
      continue;
    }
    in_end_ += static_cast<size_t>(n);
    // (The first read, of bytes that came before the socket was
    // registered, is confirmed at once: a readiness edge was seen missed
    // after it.)
    readable_ = static_cast<size_t>(n) == room || reads_ == 0;
    ++reads_;
    if (!readable_) MarkUnconfirmed();
    env_.owner->Ready(this);  // runs the requests and flushes the replies
  }
  // Without a wait queued an edge may pass unseen: read first next time.
  if (!read_wait_.pending()) readable_ = true;
  pumping_ = false;
}

void Connection::MarkUnconfirmed() {
  if (eof_unknown_ || checking_) return;
  eof_unknown_ = true;
  env_.owner->NeedsEofCheck();
}

bool Connection::CheckEof() {
  if (closed_ || !eof_unknown_) return false;
  if (reads_ != swept_reads_) {
    swept_reads_ = reads_;  // busy: check once it goes quiet
    return true;
  }
  eof_unknown_ = false;
  readable_ = true;  // EAGAIN, bytes or the end: each is handled
  checking_ = true;  // its EAGAIN confirms: no check after this one
  Pump();
  checking_ = false;
  return eof_unknown_;
}

// Waits for the socket to become readable. Only right after a read that
// emptied it (the contract of ReadinessWait).
void Connection::ArmWait() {
  if (read_wait_.pending()) return;
  read_wait_.Start(
      *env_.io, &socket_, shared_from_this(),
      [](void* self, const error_code& ec) {
        static_cast<Connection*>(self)->OnReadable(ec);
      },
      this);
}

void Connection::OnReadable(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    Close();
    return;
  }
  readable_ = true;
  Pump();
}

// Executes every complete request in the read buffer, in order: first
// those ParseAhead() put in `batch` (null: none), then whatever else is in
// the buffer.
void Connection::Process(const RequestBatch* batch, int64_t now) {
  while (ahead_next_ < ahead_end_ && !waiting_ && !closing_) {
    const RequestBatch::Request& a = (*batch)[ahead_next_++];
    // After the last one the parser continues where ParseAhead stopped.
    in_begin_ = ahead_next_ == ahead_end_ ? ahead_resume_ : a.end;
    if (!Run(batch->args(a), now)) return;
  }
  if (ahead_next_ < ahead_end_) {
    // Stopped early (an RL.ACQUIRE waits, or the client quit): the rest
    // is parsed again from in_begin_ when its turn comes.
    ahead_next_ = ahead_end_;
    parser_.Reset();
  }
  while (!waiting_ && !closing_) {
    const RespParser::Result r = parser_.Next(
        std::string_view(in_.data() + in_begin_, in_end_ - in_begin_));
    in_begin_ += parser_.consumed();
    if (r == RespParser::Result::kIncomplete) break;
    if (r == RespParser::Result::kError) {
      AppendRespError(replies_.pending(),
                      "ERR " + std::string(parser_.error()));
      closing_ = true;
      break;
    }
    if (!Run(RespArgs(parser_.args()), now)) return;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
}

// Executes one request; false when that dropped the connection.
bool Connection::Run(RespArgs args, int64_t now) {
  const CommandOutcome outcome =
      env_.handler->Execute(args, now, id_, replies_.pending());
  if (outcome.action == CommandAction::kClose) {
    closing_ = true;
  } else if (outcome.action == CommandAction::kWait) {
    Wait(args, now, outcome);
  }
  if (replies_.unsent_bytes() > env_.options->max_output_bytes) {
    LogWarn(kLog, "dropping connection " + std::to_string(id_) + ": " +
                      std::to_string(replies_.unsent_bytes()) +
                      " bytes of replies unread, over the limit of " +
                      std::to_string(env_.options->max_output_bytes) +
                      " (a client must read its replies)");
    Close();
    return false;
  }
  return true;
}

// Parks an RL.ACQUIRE: keeps its arguments (the read buffer moves on) and
// wakes up at outcome.wake_at.
void Connection::Wait(RespArgs args, int64_t now,
                      const CommandOutcome& outcome) {
  waiting_ = true;
  wait_args_.assign(args.begin(), args.end());
  wait_views_.assign(wait_args_.begin(), wait_args_.end());
  wait_deadline_ = outcome.deadline;
  ArmTimer(now, outcome.wake_at);
}

void Connection::ArmTimer(int64_t now, int64_t wake_at) {
  timer_.expires_after(
      std::chrono::nanoseconds(std::max<int64_t>(0, wake_at - now)));
  timer_.async_wait(
      [self = shared_from_this()](const error_code& ec) { self->OnTimer(ec); });
}

void Connection::OnTimer(const error_code& ec) {
  if (ec || closed_) return;
  const int64_t now = env_.clock->NowNanos();
  const CommandOutcome outcome = env_.handler->ResumeAcquire(
      wait_views_, now, wait_deadline_, replies_.pending());
  if (outcome.action == CommandAction::kWait) {
    ArmTimer(now, outcome.wake_at);
    return;
  }
  waiting_ = false;
  wait_views_.clear();
  wait_args_.clear();
  Process(nullptr, now);  // requests pipelined behind the RL.ACQUIRE
  if (closed_) return;
  Flush();
  env_.owner->RanRequests();
  Pump();
}

// Starts writing pending replies; closes once a closing connection has
// nothing left to write.
void Connection::Flush() {
  if (closed_ || replies_.write_in_flight()) return;
  if (replies_.has_pending()) {
    // Straight to the socket: one send(), no asynchronous operation to
    // allocate and complete (as Redis does) ...
    const size_t sent = SendNow();
    if (closed_) return;
    if (sent < replies_.pending()->size()) {
      // ... and what the socket would not take yet, asynchronously.
      const std::string_view rest = replies_.StartWrite(sent);
      asio::async_write(
          socket_, asio::buffer(rest.data(), rest.size()),
          WithMemory(&write_memory_,
                     [self = shared_from_this()](const error_code& ec, size_t) {
                       self->OnWrite(ec);
                     }));
      return;
    }
    replies_.SentAll();
  }
  if (closing_ && !waiting_) {
    error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    Close();
  }
}

// Sends what it can of the pending replies without blocking; closes the
// connection on an error other than a full socket buffer. Returns the
// bytes sent.
size_t Connection::SendNow() {
  const std::string& pending = *replies_.pending();
  for (;;) {
    const ssize_t n = ::send(socket_.native_handle(), pending.data(),
                             pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) Close();
    return 0;
  }
}

void Connection::OnWrite(const error_code& ec) {
  replies_.WriteDone();
  if (closed_) return;
  if (ec) {
    Close();
    return;
  }
  Flush();
}

// Replies with an error and closes once it is written.
void Connection::Fail(std::string_view message) {
  AppendRespError(replies_.pending(), "ERR " + std::string(message));
  closing_ = true;
  Flush();
}

}  // namespace sluice
