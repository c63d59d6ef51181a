// Connection: one client of the agent's RESP server (agent/server/server.h):
// its socket, its read buffer and parser, its replies (ReplyBuffer) and a
// parked RL.ACQUIRE.
//
//   - Reads go into a buffer that grows up to the request limit; after
//     each read the connection has its owner run what it read at once
//     (ConnectionOwner::Ready: ParseAhead() then ProcessRead()), as Redis
//     does, with no other turn of the event loop in between.
//   - System calls, per request without pipelining: one recv and one send
//     (and the event loop's epoll_wait, shared by the connections ready
//     together). A read that did not fill the buffer emptied the socket:
//     the next one waits for readiness (ReadinessWait, which costs no
//     system call) rather than trying first and failing with EAGAIN.
//   - Requests run in order through the CommandHandler; their replies go
//     out together (Flush) after the last one of the read (pipelining).
//   - A protocol error gets "-ERR Protocol error: ..." and the connection
//     closes once it is written.
//   - Replies waiting to be written are bounded (max_output_bytes): a
//     client that keeps sending but never reads is dropped.
//   - An RL.ACQUIRE that must wait arms a timer; the requests pipelined
//     after it wait for it (replies stay in order). The connection is still
//     read meanwhile: a Unix-socket client that hangs up is dropped at once
//     (one that only half-closes gets its replies).
//
// Lives as long as an asynchronous operation holds it (shared_ptr) or its
// owner lists it. Thread-compatible: the server's event loop only.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/commands/command_handler.h"
#include "agent/resp/resp_parser.h"
#include "agent/server/handler_memory.h"
#include "agent/server/readiness_wait.h"
#include "agent/server/reply_buffer.h"
#include "agent/server/request_batch.h"
#include "agent/server/server_options.h"
#include "common/clock.h"

namespace sluice {

class Connection;

// What a connection asks of the server that owns it.
class ConnectionOwner {
 public:
  // `connection` read new bytes: call its ParseAhead() and ProcessRead()
  // now, once.
  virtual void Ready(Connection* connection) = 0;
  // Requests ran outside a batch (behind a parked RL.ACQUIRE): whatever
  // follows a batch (the agent's lease flush) is due.
  virtual void RanRequests() = 0;
  // The connection closed: forget it.
  virtual void Forget(uint64_t id) = 0;
  // The connection waits for input after a read that may have hidden the
  // client's end of input: call its CheckEof() within a sweep interval.
  virtual void NeedsEofCheck() = 0;

 protected:
  ~ConnectionOwner() = default;
};

// What the connections of one server share; outlives them all.
struct ConnectionEnv {
  boost::asio::io_context* io = nullptr;
  const ServerOptions* options = nullptr;
  CommandHandler* handler = nullptr;
  const Clock* clock = nullptr;
  ConnectionOwner* owner = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::generic::stream_protocol::socket;

  Connection(const ConnectionEnv& env, uint64_t id, Socket socket);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t id() const { return id_; }

  // Starts reading.
  void Start() { Pump(); }

  // First pass of a round: parses the complete requests read so far into
  // `batch` (until it is full) and prepares them
  // (CommandHandler::Prepare). Runs nothing.
  void ParseAhead(RequestBatch* batch);
  // Second pass: runs what was read (what ParseAhead put in the batch
  // first) and flushes the replies.
  void ProcessRead(const RequestBatch& batch, int64_t now);

  // Closes the socket and tells the owner; idempotent.
  void Close();

  // The coarse sweep (the owner's, every few tens of milliseconds) after
  // NeedsEofCheck(): a connection that read nothing since the previous
  // sweep reads once more, so that a client's end of input (or hang-up)
  // that arrived together with its last bytes is seen. (Edge-triggered
  // readiness reported both at once; a read that returned the bytes
  // cannot tell whether the end follows, and waiting for the next edge
  // would wait forever.) Every connection that goes quiet is checked once
  // this way, also after a read that found nothing: a safety net, should
  // a readiness edge ever be missed. True while a check is still due.
  bool CheckEof();

 private:
  bool PeerHungUp();
  bool EnsureRoom();
  void Pump();
  void ArmWait();
  void OnReadable(const boost::system::error_code& ec);
  void MarkUnconfirmed();
  void Process(const RequestBatch* batch, int64_t now);
  bool Run(RespArgs args, int64_t now);
  void Wait(RespArgs args, int64_t now, const CommandOutcome& outcome);
  void ArmTimer(int64_t now, int64_t wake_at);
  void OnTimer(const boost::system::error_code& ec);
  void Flush();
  size_t SendNow();
  void OnWrite(const boost::system::error_code& ec);
  void Fail(std::string_view message);

  const ConnectionEnv env_;
  const uint64_t id_;
  // The pending wait for input and the pending write's memory: a wait
  // after every request allocates nothing. Declared before socket_, so
  // that they outlive any operation the socket's destruction cancels.
  ReadinessWait read_wait_;
  HandlerMemory write_memory_;
  WaitableSocket socket_;
  RespParser parser_;
  // Unconsumed input is in_[in_begin_, in_end_).
  std::vector<char> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  ReplyBuffer replies_;
  // This connection's requests in the round's batch (ParseAhead):
  // batch[ahead_next_, ahead_end_) are still to run; the parser continues
  // at ahead_resume_ after them.
  size_t ahead_next_ = 0;
  size_t ahead_end_ = 0;
  size_t ahead_resume_ = 0;
  // The socket may hold unread bytes: read before waiting. False after a
  // read that emptied it, as long as read_wait_ is pending.
  bool readable_ = true;
  bool pumping_ = false;
  // Reads since the start, and at the last sweep; a read that returned
  // bytes without emptying the buffer leaves the end of input unknown.
  uint64_t reads_ = 0;
  uint64_t swept_reads_ = 0;
  bool eof_unknown_ = false;
  bool checking_ = false;
  bool closing_ = false;  // no more requests; close after the last write
  bool eof_ = false;      // the client shut down its sending side
  bool closed_ = false;
  // A parked RL.ACQUIRE.
  boost::asio::steady_timer timer_;
  bool waiting_ = false;
  std::vector<std::string> wait_args_;
  std::vector<std::string_view> wait_views_;
  int64_t wait_deadline_ = 0;
};

}  // namespace sluice
