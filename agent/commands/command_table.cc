#include "agent/commands/command_table.h"

#include "agent/commands/rate_limit_commands.h"
#include "agent/commands/redis_commands.h"

namespace sluice {

CommandTable::CommandTable(std::initializer_list<CommandSpec> specs) {
  entries_.reserve(specs.size());
  for (const CommandSpec& spec : specs) {
    Key key;
    if (spec.name.empty() || !MakeKey(spec.name, &key) ||
        Find(spec.name) != nullptr) {
      continue;
    }
    entries_.push_back(Entry{key, spec});
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    const CommandSpec& spec = entries_[i].spec;
    if (i > 0) names_ += i + 1 == entries_.size() ? " and " : ", ";
    names_ += spec.listed_as.empty() ? spec.name : spec.listed_as;
  }
}

const CommandTable& AgentCommandTable() {
  // RL.CHECK first: it is nearly every request.
  static const CommandTable table({
      {"RL.CHECK", RunRlCheck, PrepareRlCheck},
      {"RL.ACQUIRE", RunRlAcquire},
      {"RL.INFO", RunRlInfo},
      {"PING", RunPing},
      {"ECHO", RunEcho},
      {"QUIT", RunQuit},
      {"HELLO", RunHello},
      {"COMMAND", RunCommand},
      {"CONFIG", RunConfig, nullptr, "CONFIG GET"},
      {"CLIENT", RunClient},
  });
  return table;
}

}  // namespace sluice
