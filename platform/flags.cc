#include "platform/flags.h"

#include <cstdlib>

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

}  // namespace

void FlagParser::AddString(const std::string& name, const std::string& env,
                           const std::string& default_value,
                           const std::string& help) {
  if (flags_.count(name) == 0) order_.push_back(name);
  flags_[name] = Flag{env, default_value, help, false, false};
}

void FlagParser::AddBool(const std::string& name, const std::string& env,
                         const std::string& help) {
  if (flags_.count(name) == 0) order_.push_back(name);
  flags_[name] = Flag{env, "false", help, true, false};
}

Status FlagParser::Parse(int argc, char** argv) {
  // Environment first; the command line overrides it.
  for (auto& [name, flag] : flags_) {
    if (flag.env.empty()) continue;
    const char* value = std::getenv(flag.env.c_str());
    if (value == nullptr) continue;
    if (flag.is_bool) {
      bool on = false;
      if (!ParseEnvBool(value, &on)) {
        return Status::InvalidArgument(
            "environment variable " + flag.env + "='" + value +
            "' is not a boolean; write 1, true, yes or on (or 0, false, no, "
            "off) for --" +
            name);
      }
      flag.value = on ? "true" : "false";
    } else {
      flag.value = value;
    }
    flag.set = true;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {  // the rest are positional arguments
      for (++i; i < argc; ++i) positional_.push_back(argv[i]);
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
    size_t eq = name.find('=');
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
    if (flag.is_bool) {
      if (has_inline_value) {
        return Status::InvalidArgument("flag --" + name +
                                       " takes no value; write just --" + name);
      }
      flag.value = "true";
    } else if (has_inline_value) {
      flag.value = value;
    } else {
      // "--socket --tcp x" is a forgotten value, not a socket named --tcp.
      if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0) {
        return Status::InvalidArgument(
            "flag --" + name + " needs a value: --" + name + " VALUE (or --" +
            name + "=VALUE for a value that starts with --)");
      }
      flag.value = argv[++i];
    }
    flag.set = true;
  }
  return Status::Ok();
}

const std::string& FlagParser::Get(const std::string& name) const {
  return flags_.at(name).value;
}

bool FlagParser::GetBool(const std::string& name) const {
  return flags_.at(name).value == "true";
}

bool FlagParser::IsSet(const std::string& name) const {
  return flags_.at(name).set;
}

std::string FlagParser::Usage() const {
  std::string out = "usage: " + program_ + " [flags]\n\nflags:\n";
  for (const auto& name : order_) {
    const Flag& flag = flags_.at(name);
    out += "  --" + name;
    if (!flag.is_bool) out += " VALUE";
    out += "\n      " + flag.help;
    if (!flag.env.empty()) out += " (env " + flag.env + ")";
    if (!flag.is_bool && !flag.value.empty() && !flag.set) {
      out += " [default " + flag.value + "]";
    }
    out += "\n";
  }
  return out;
}

}  // namespace sluice
