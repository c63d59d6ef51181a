#include "agent/commands/command_handler.h"

#include <utility>

#include "agent/commands/command_support.h"
#include "agent/commands/rate_limit_commands.h"
#include "agent/resp/resp_writer.h"

namespace sluice {

CommandHandler::CommandHandler(Checker* checker, InfoExtra info_extra)
    : table_(&AgentCommandTable()) {
  context_.checker = checker;
  context_.info_extra = std::move(info_extra);
  context_.descriptor.reserve(16);
}

CommandHandler::Outcome CommandHandler::ResumeAcquire(RespArgs args,
                                                      int64_t now,
                                                      int64_t deadline,
                                                      std::string* out) {
  return ResumeRlAcquire(&context_, CommandRequest{args, now, 0, out},
                         deadline);
}

std::string CommandHandler::Info(int64_t now) const {
  return RlInfoText(context_, now);
}

CommandHandler::Outcome CommandHandler::Unknown(
    const CommandRequest& request) const {
  AppendRespError(request.out, "ERR unknown command " +
                                   Quoted(request.args[0]) +
                                   ": sluice-agent answers " + table_->names());
  return {};
}

}  // namespace sluice
