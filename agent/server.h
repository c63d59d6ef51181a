// Server: the agent's RESP2 listener (docs/api.md, "Agent: RESP2 over a Unix
// socket"), on a Boost.Asio io_context run by ONE thread, which also owns
// the checker and its buckets: no lock anywhere on the request path.
//
// Listens on a Unix socket (mode 0660; a stale socket file left by a dead
// agent is replaced, a live one or a non-socket file is refused) and,
// optionally, on TCP HOST:PORT (port 0 picks a free port: tcp_port()).
//
// Per connection:
//   - each read is parsed completely: every request in it is executed in
//     order and all replies go out in one write (pipelining);
//   - a protocol error or an oversized request (RespParserOptions) gets
//     "-ERR Protocol error: ..." and then that connection is closed; other
//     connections are not affected;
//   - replies waiting to be written are bounded (max_output_bytes): a client
//     that keeps sending but never reads is dropped;
//   - RL.ACQUIRE that must wait arms a timer; the requests pipelined after
//     it wait for it (replies stay in order), other connections go on. The
//     connection is still read meanwhile: a Unix-socket client that hangs
//     up is dropped at once (one that only half-closes gets its replies).
// Beyond max_connections, a new connection gets "-ERR max number of clients
// reached" and is closed.
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
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/commands.h"
#include "agent/resp_parser.h"
#include "common/clock.h"
#include "common/status.h"

namespace sluice {

struct ServerOptions {
  // Unix socket path; empty: none (then tcp must be set).
  std::string socket_path;
  // "HOST:PORT" to also listen on TCP; empty: no TCP listener.
  std::string tcp;
  RespParserOptions parser;
  // Replies buffered for one connection before it is dropped. Default
  // 4 MiB: about 100k RL.CHECK replies.
  size_t max_output_bytes = 4 * 1024 * 1024;
  // Open connections. Default 10000 (as Redis' maxclients).
  size_t max_connections = 10000;
  // First read buffer of a connection; it grows up to the request limit.
  size_t read_buffer_bytes = 16 * 1024;
};

class Server {
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
  class Connection;
  using Acceptor =
      boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

  Status ListenUnix();
  Status ListenTcp();
  void Accept(Acceptor* acceptor);
  void Forget(uint64_t id);
  // A connection read new bytes: Drain() (posted once per round of the
  // event loop) runs the requests of every connection read in that round
  // as one batch.
  void Ready(std::shared_ptr<Connection> connection);
  void Drain();

  // A request parsed ahead by Drain(): its arguments are
  // ahead_args_[first_arg, first_arg + arg_count); it ends at offset `end`
  // of its connection's buffer.
  struct Ahead {
    size_t first_arg;
    size_t arg_count;
    size_t end;
  };

  boost::asio::io_context* io_;
  ServerOptions options_;
  CommandHandler* handler_;
  const Clock* clock_;
  std::function<void()> on_batch_;
  std::unique_ptr<Acceptor> unix_acceptor_;
  std::unique_ptr<Acceptor> tcp_acceptor_;
  std::unique_ptr<boost::asio::steady_timer> accept_retry_timer_;
  bool socket_file_created_ = false;
  uint64_t socket_inode_ = 0;
  uint16_t tcp_port_ = 0;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections_;
  // Expires with the server (see Ready()).
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::vector<std::shared_ptr<Connection>> ready_;
  std::vector<std::shared_ptr<Connection>> draining_;
  bool drain_posted_ = false;
  std::vector<Ahead> ahead_;
  std::vector<std::string_view> ahead_args_;
};

}  // namespace sluice
