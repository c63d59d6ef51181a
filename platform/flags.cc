#include "platform/flags.h"

#include <cstdlib>
#include <utility>

namespace sluice {

namespace {

// Parses a boolean environment value; false if it is not one.
bool ParseEnvBool(const std::string& text, bool* out) {
  std::string v;
  for (char c : text) {
    v += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    *out = true;
    return true;
  }
  if (v.empty() || v == "0" || v == "false" || v == "no" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

// Decimal digits with an optional leading '-', no overflow; false if
// `text` is not that.
bool ParseWholeNumber(std::string_view text, int64_t* out) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 19) return false;
  uint64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
  }
  // 19 digits fit in uint64_t; int64_t takes up to 2^63 - 1 (and -2^63).
  constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
  if (magnitude > kMaxMagnitude || (!negative && magnitude == kMaxMagnitude)) {
    return false;
  }
  *out = negative ? static_cast<int64_t>(0 - magnitude)
                  : static_cast<int64_t>(magnitude);
  return true;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](
             const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

StatusOr<int64_t> ParseIntFlag(std::string_view text, const std::string& flag,
                               int64_t min, int64_t max,
                               const std::string& source) {
  int64_t value = 0;
  if (ParseWholeNumber(text, &value) && value >= min && value <= max) {
    return value;
  }
  std::string given = "--" + flag + " '" + std::string(text) + "'";
  if (!source.empty()) given += " (from " + source + ")";
  return Status::InvalidArgument(given +
                                     " is not valid: expected a whole number "
                                     "from " +
                                     std::to_string(min) + " to " +
                                     std::to_string(max),
                                 flag);
}

void FlagParser::Add(const std::string& name, Flag flag) {
  if (flags_.count(name) == 0) order_.push_back(name);
  flag.value = flag.default_value;
  flags_[name] = std::move(flag);
}

void FlagParser::AddString(const std::string& name, const std::string& env,
                           const std::string& default_value,
                           const std::string& help) {
  Flag flag;
  flag.env = env;
  flag.default_value = default_value;
  flag.help = help;
  Add(name, std::move(flag));
}

void FlagParser::AddBool(const std::string& name, const std::string& env,
                         const std::string& help) {
  Flag flag;
  flag.kind = Kind::kBool;
  flag.env = env;
  flag.default_value = "false";
  flag.help = help;
  Add(name, std::move(flag));
}

void FlagParser::AddInt(const std::string& name, const std::string& env,
                        int64_t default_value, int64_t min, int64_t max,
                        const std::string& help) {
  Flag flag;
  flag.kind = Kind::kInt;
  flag.env = env;
  flag.default_value = std::to_string(default_value);
  flag.help = help;
  flag.min = min;
  flag.max = max;
  flag.int_value = default_value;
  Add(name, std::move(flag));
}

void FlagParser::AddEnv(const std::string& env, const std::string& help) {
  env_only_.push_back(Described{env, help});
}

void FlagParser::AddSubcommand(const std::string& name,
                               const std::string& help) {
  subcommands_.push_back(Described{name, help});
}

Status FlagParser::ReadEnvironment(const EnvLookup& env) {
  for (auto& [name, flag] : flags_) {
    if (flag.env.empty()) continue;
    const std::optional<std::string> value = env(flag.env);
    if (!value) continue;
    if (flag.kind == Kind::kBool) {
      bool on = false;
      if (!ParseEnvBool(*value, &on)) {
        return Status::InvalidArgument(
            "environment variable " + flag.env + "='" + *value +
            "' is not a boolean; write 1, true, yes or on (or 0, false, no, "
            "off) for --" +
            name);
      }
      flag.value = on ? "true" : "false";
    } else {
      flag.value = *value;
    }
    flag.set = true;
  }
  for (const Described& setting : env_only_) {
    const std::optional<std::string> value = env(setting.name);
    if (value) env_values_[setting.name] = *value;
  }
  return Status::Ok();
}

Status FlagParser::Parse(const std::vector<std::string>& args,
                         const EnvLookup& env) {
  // Environment first; the command line overrides it.
  Status status = ReadEnvironment(env);
  if (!status.ok()) return status;
  std::map<std::string, bool> from_command_line;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are positional arguments
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_inline_value = false;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return Status::InvalidArgument("unknown flag --" + name + "; run " +
                                     program_ + " --help for the flags");
    }
    Flag& flag = it->second;
    if (flag.kind == Kind::kBool) {
      if (has_inline_value) {
        return Status::InvalidArgument("flag --" + name +
                                       " takes no value; write just --" + name);
      }
      flag.value = "true";
    } else if (has_inline_value) {
      flag.value = value;
    } else {
      // "--socket --tcp x" is a forgotten value, not a socket named --tcp.
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        return Status::InvalidArgument(
            "flag --" + name + " needs a value: --" + name + " VALUE (or --" +
            name + "=VALUE for a value that starts with --)");
      }
      flag.value = args[++i];
    }
    flag.set = true;
    from_command_line[name] = true;
  }
  for (auto& [name, flag] : flags_) {
    if (flag.kind != Kind::kInt || !flag.set) continue;
    StatusOr<int64_t> value =
        ParseIntFlag(flag.value, name, flag.min, flag.max,
                     from_command_line.count(name) != 0 ? "" : flag.env);
    if (!value.ok()) return value.status();
    flag.int_value = *value;
  }
  return Status::Ok();
}

Status FlagParser::Parse(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args, ProcessEnv());
}

const std::string& FlagParser::Get(const std::string& name) const {
  return flags_.at(name).value;
}

bool FlagParser::GetBool(const std::string& name) const {
  return flags_.at(name).value == "true";
}

int64_t FlagParser::GetInt(const std::string& name) const {
  return flags_.at(name).int_value;
}

const std::string& FlagParser::GetEnv(const std::string& env) const {
  static const std::string kUnset;
  auto it = env_values_.find(env);
  return it == env_values_.end() ? kUnset : it->second;
}

bool FlagParser::IsSet(const std::string& name) const {
  return flags_.at(name).set;
}

std::string FlagParser::Usage() const {
  std::string out = "usage: " + program_ + " [flags]\n";
  for (const Described& sub : subcommands_) {
    out += "       " + program_ + " " + sub.name + "\n";
  }
  out += "\nflags:\n";
  for (const auto& name : order_) {
    const Flag& flag = flags_.at(name);
    out += "  --" + name;
    if (flag.kind == Kind::kString) out += " VALUE";
    if (flag.kind == Kind::kInt) out += " N";
    out += "\n      " + flag.help;
    if (flag.kind == Kind::kInt) {
      out += ", from " + std::to_string(flag.min) + " to " +
             std::to_string(flag.max);
    }
    if (!flag.env.empty()) out += " (env " + flag.env + ")";
    if (flag.kind != Kind::kBool && !flag.default_value.empty()) {
      out += " [default " + flag.default_value + "]";
    }
    out += "\n";
  }
  if (!env_only_.empty()) out += "\nenvironment:\n";
  for (const Described& setting : env_only_) {
    out += "  " + setting.name + "\n      " + setting.help + "\n";
  }
  if (!subcommands_.empty()) out += "\nsubcommands:\n";
  for (const Described& sub : subcommands_) {
    out += "  " + sub.name + "\n      " + sub.help + "\n";
  }
  return out;
}

StatusOr<DaemonMode> DaemonModeOf(const FlagParser& flags) {
  if (flags.help_requested()) return DaemonMode::kHelp;
  const std::vector<std::string>& positional = flags.positional();
  if (positional.empty()) return DaemonMode::kRun;
  if (positional.size() == 1 && positional[0] == "keygen") {
    return DaemonMode::kKeygen;
  }
  const std::string& unexpected =
      positional[0] == "keygen" ? positional[1] : positional[0];
  return Status::InvalidArgument(
      "unexpected argument '" + unexpected +
      "': every setting is a --flag and the only subcommand is keygen; run "
      "with --help for the flags");
}

}  // namespace sluice
