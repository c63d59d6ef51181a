// Server: the agent's RESP2 listener, on a Boost.Asio io_context run by
// ONE thread, which also owns the checker and its buckets: no lock
// anywhere on the request path.
//
// Listens on a Unix socket (mode 0660; a stale socket file left by a dead
// agent is replaced, a live one or a non-socket file is refused) and,
// optionally, on TCP HOST:PORT (port 0 picks a free port: tcp_port()).
// Each client is a Connection (agent/server/connection.h: reading,
// pipelining, the bounds on input and output, a parked RL.ACQUIRE); a
// protocol error closes that connection only. Beyond max_connections, a
// new connection gets "-ERR max number of clients reached" and is closed.
//
// Batches: what one read of a connection brought runs at once, as one
// batch: its requests are parsed and prepared first (so that the memory
// loads of their checks overlap), then run, and answered with one write.
// (Running the connections of one round of the event loop together would
// take one more turn of the loop, an epoll_wait, per round.)
//
// Thread-safety: construct, Start() and Stop() on the thread that runs the
// io_context (or before it runs / after it stopped). Everything else runs
// on that thread.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/commands/command_handler.h"
#include "agent/server/connection.h"
#include "agent/server/handler_memory.h"
#include "agent/server/request_batch.h"
#include "agent/server/server_options.h"
#include "common/clock.h"
#include "common/status.h"

namespace sluice {

class Server final : private ConnectionOwner {
 public:
  Server(boost::asio::io_context* io, ServerOptions options,
         CommandHandler* handler, const Clock* clock);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Fails with a message naming the address
  // and what to change.
  Status Start();
  // Stops accepting, closes every connection, removes the socket file.
  void Stop();

  // Called after each batch of requests read from a connection was
  // executed (the agent flushes lease requests from here).
  void set_on_batch(std::function<void()> on_batch) {
    on_batch_ = std::move(on_batch);
  }

  // The bound TCP port (useful with port 0); 0 without a TCP listener.
  uint16_t tcp_port() const { return tcp_port_; }
  size_t connection_count() const { return connections_.size(); }
  // Connections accepted since start.
  uint64_t connections_accepted() const { return next_id_ - 1; }

 private:
  using Acceptor =
      boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

  Status ListenUnix();
  Status ListenTcp();
  void Accept(Acceptor* acceptor);
  void Admit(Acceptor* acceptor, Connection::Socket socket);
  // ConnectionOwner. A connection read new bytes: runs them as one batch.
  void Ready(Connection* connection) override;
  void RanRequests() override;
  void Forget(uint64_t id) override;
  void NeedsEofCheck() override;
  void SweepEof();

  boost::asio::io_context* io_;
  ServerOptions options_;
  CommandHandler* handler_;
  const Clock* clock_;
  ConnectionEnv connection_env_;
  std::function<void()> on_batch_;
  std::unique_ptr<Acceptor> unix_acceptor_;
  std::unique_ptr<Acceptor> tcp_acceptor_;
  std::unique_ptr<boost::asio::steady_timer> accept_retry_timer_;
  // Armed while some connection's end of input is unknown (CheckEof).
  std::unique_ptr<boost::asio::steady_timer> eof_timer_;
  bool eof_timer_armed_ = false;
  // Its wait's memory, so that it allocates nothing (see ~Server()).
  HandlerMemory* eof_timer_memory_ = new HandlerMemory;
  bool socket_file_created_ = false;
  uint64_t socket_inode_ = 0;
  uint16_t tcp_port_ = 0;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections_;
  RequestBatch batch_;
};

}  // namespace sluice
