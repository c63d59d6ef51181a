// ServerOptions: what the agent's RESP server listens on, and the limits
// it puts on each connection (agent/server/server.h).
//
// Plain data; thread-compatible.
#pragma once

#include <cstddef>
#include <string>

#include "agent/resp/resp_parser.h"

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

}  // namespace sluice
