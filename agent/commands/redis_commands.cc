#include "agent/commands/redis_commands.h"

#include <string_view>
#include <utility>

#include "agent/commands/command_support.h"
#include "agent/resp/resp_writer.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice {
namespace {

// HELLO's options after the version; false (an error appended) on one it
// does not know.
bool CheckHelloOptions(RespArgs args, std::string* out) {
  for (size_t i = 2; i < args.size();) {
    if (EqualsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
      i += 3;  // no authentication on the local socket: ignored
    } else if (EqualsIgnoreCase(args[i], "SETNAME") && i + 1 < args.size()) {
      i += 2;
    } else {
      AppendRespError(out, "ERR syntax error in HELLO option " +
                               Quoted(args[i]) +
                               ": expected HELLO [2 [AUTH <username> "
                               "<password>] [SETNAME <name>]]");
      return false;
    }
  }
  return true;
}

void AppendHelloMap(std::string* out, uint64_t connection_id) {
  AppendRespArrayHeader(out, 14);
  AppendRespBulkString(out, "server");
  AppendRespBulkString(out, "sluice");
  AppendRespBulkString(out, "version");
  AppendRespBulkString(out, SLUICE_VERSION);
  AppendRespBulkString(out, "proto");
  AppendRespInteger(out, 2);
  AppendRespBulkString(out, "id");
  AppendRespInteger(out, static_cast<int64_t>(connection_id));
  AppendRespBulkString(out, "mode");
  AppendRespBulkString(out, "standalone");
  AppendRespBulkString(out, "role");
  AppendRespBulkString(out, "master");
  AppendRespBulkString(out, "modules");
  AppendRespArrayHeader(out, 0);
}

// What CONFIG GET answers; nothing else is configurable.
constexpr std::pair<std::string_view, std::string_view> kConfigParams[] = {
    {"appendonly", "no"}, {"save", ""}};

// Whether one of the patterns args[2..] asks for `param` ("*" asks for
// every one).
bool ConfigAsked(RespArgs args, std::string_view param) {
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "*" || EqualsIgnoreCase(args[i], param)) return true;
  }
  return false;
}

}  // namespace

CommandOutcome RunPing(CommandContext*, const CommandRequest& request) {
  const RespArgs args = request.args;
  if (args.size() == 1) {
    AppendRespSimpleString(request.out, "PONG");
  } else if (args.size() == 2) {
    AppendRespBulkString(request.out, args[1]);
  } else {
    AppendArityError(request.out, args[0], "PING [message]");
  }
  return {};
}

CommandOutcome RunEcho(CommandContext*, const CommandRequest& request) {
  const RespArgs args = request.args;
  if (args.size() == 2) {
    AppendRespBulkString(request.out, args[1]);
  } else {
    AppendArityError(request.out, args[0], "ECHO <message>");
  }
  return {};
}

CommandOutcome RunQuit(CommandContext*, const CommandRequest& request) {
  AppendRespSimpleString(request.out, "OK");
  return CommandOutcome{CommandAction::kClose, 0, 0};
}

CommandOutcome RunHello(CommandContext*, const CommandRequest& request) {
  const RespArgs args = request.args;
  std::string* out = request.out;
  if (args.size() >= 2) {
    int64_t version = 0;
    if (!ParseNonNegative(args[1], 1000, &version) || version < 1) {
      AppendRespError(out, "ERR protocol version " + Quoted(args[1]) +
                               " is not an integer or out of range: "
                               "expected HELLO 2");
      return {};
    }
    if (version != 2) {
      AppendRespError(out,
                      "NOPROTO sorry, this protocol version is not "
                      "supported: sluice-agent speaks RESP2 only (HELLO 2)");
      return {};
    }
    if (!CheckHelloOptions(args, out)) return {};
  }
  AppendHelloMap(out, request.connection_id);
  return {};
}

CommandOutcome RunCommand(CommandContext*, const CommandRequest& request) {
  // No command table: clients (redis-cli) work without one.
  const RespArgs args = request.args;
  if (args.size() >= 2 && EqualsIgnoreCase(args[1], "COUNT")) {
    AppendRespInteger(request.out, 0);
  } else {
    AppendRespArrayHeader(request.out, 0);
  }
  return {};
}

CommandOutcome RunConfig(CommandContext*, const CommandRequest& request) {
  const RespArgs args = request.args;
  std::string* out = request.out;
  if (args.size() < 2 || !EqualsIgnoreCase(args[1], "GET")) {
    AppendRespError(out,
                    "ERR sluice-agent supports only CONFIG GET <parameter> "
                    "[<parameter> ...]");
    return {};
  }
  if (args.size() < 3) {
    AppendArityError(out, "config|get",
                     "CONFIG GET <parameter> [<parameter> ...]");
    return {};
  }
  int64_t found = 0;
  for (const auto& [param, value] : kConfigParams) {
    if (ConfigAsked(args, param)) ++found;
  }
  AppendRespArrayHeader(out, found * 2);
  for (const auto& [param, value] : kConfigParams) {
    if (!ConfigAsked(args, param)) continue;
    AppendRespBulkString(out, param);
    AppendRespBulkString(out, value);
  }
  return {};
}

CommandOutcome RunClient(CommandContext*, const CommandRequest& request) {
  const RespArgs args = request.args;
  if (args.size() == 2 && EqualsIgnoreCase(args[1], "ID")) {
    AppendRespInteger(request.out, static_cast<int64_t>(request.connection_id));
  } else if (args.size() >= 3 && (EqualsIgnoreCase(args[1], "SETNAME") ||
                                  EqualsIgnoreCase(args[1], "SETINFO"))) {
    AppendRespSimpleString(request.out, "OK");
  } else {
    AppendRespError(request.out,
                    "ERR unsupported CLIENT subcommand: sluice-agent "
                    "accepts CLIENT ID, CLIENT SETNAME <name> and CLIENT "
                    "SETINFO <attr> <value>");
  }
  return {};
}

}  // namespace sluice
