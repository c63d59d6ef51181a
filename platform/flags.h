// FlagParser: command-line flags, each with an environment-variable fallback
// (docs/design.md, "Command lines and environment"): --db CONNINFO or
// SLUICE_DB=...; a flag given on the command line wins over the environment,
// which wins over the default. Accepts "--name value" and "--name=value";
// boolean flags take no value.
//
// Thread-compatible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

class FlagParser {
 public:
  explicit FlagParser(std::string program) : program_(std::move(program)) {}

  void AddString(const std::string& name, const std::string& env,
                 const std::string& default_value, const std::string& help);
  void AddBool(const std::string& name, const std::string& env,
               const std::string& help);

  // Refuses unknown flags, a missing value (also "--a --b": write --a=--b
  // for a value starting with --), a value for a boolean, and a boolean
  // environment variable that is not 1/true/yes/on or 0/false/no/off/empty,
  // with a message naming the flag and pointing at --help. Sets
  // help_requested() on -h/--help. Arguments after "--" are positional.
  Status Parse(int argc, char** argv);

  const std::string& Get(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // True when the flag came from the command line or the environment.
  bool IsSet(const std::string& name) const;
  bool help_requested() const { return help_requested_; }
  // Positional arguments (before or after flags).
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string env;
    std::string value;
    std::string help;
    bool is_bool = false;
    bool set = false;
  };
  std::string program_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace sluice
