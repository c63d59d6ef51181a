// FlagParser: command-line flags, each with an environment-variable
// fallback: --db CONNINFO or SLUICE_DB=...; a flag given on the command
// line wins over the environment, which wins over the default. Accepts
// "--name value" and "--name=value"; boolean flags take no value; integer
// flags (AddInt) are checked against their range when parsed. Settings
// read only from the environment (AddEnv) are listed in Usage() too.
//
// Both daemons build their options from one (agent/agent_flags.h,
// controller/controller_flags.h): flags, --help, and the `keygen`
// subcommand (DaemonModeOf).
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// Where Parse() reads environment variables: the value of `name`, or
// nullopt when it is not set.
using EnvLookup =
    std::function<std::optional<std::string>(const std::string& name)>;
// The process's environment (getenv).
EnvLookup ProcessEnv();
// An environment given as a map (tests build command lines with it).
EnvLookup MapEnv(std::map<std::string, std::string> values);

// A whole number for flag `flag` (its name without "--"): decimal digits,
// with a leading '-' only for a negative number; no '+', spaces or other
// characters. InvalidArgument naming the flag, the value (and `source`,
// the environment variable it came from, when not empty) and the accepted
// range [min, max] otherwise.
StatusOr<int64_t> ParseIntFlag(std::string_view text, const std::string& flag,
                               int64_t min, int64_t max,
                               const std::string& source = "");

class FlagParser {
 public:
  explicit FlagParser(std::string program) : program_(std::move(program)) {}

  void AddString(const std::string& name, const std::string& env,
                 const std::string& default_value, const std::string& help);
  void AddBool(const std::string& name, const std::string& env,
               const std::string& help);
  // A whole number in [min, max] (ParseIntFlag), checked by Parse().
  void AddInt(const std::string& name, const std::string& env,
              int64_t default_value, int64_t min, int64_t max,
              const std::string& help);
  // A setting read from the environment variable `env` only.
  void AddEnv(const std::string& env, const std::string& help);
  // A subcommand, for Usage() only (see DaemonModeOf).
  void AddSubcommand(const std::string& name, const std::string& help);

  // Refuses unknown flags, a missing value (also "--a --b": write --a=--b
  // for a value starting with --), a value for a boolean, a boolean
  // environment variable that is not 1/true/yes/on or 0/false/no/off/empty,
  // and an integer flag out of its range, with a message naming the flag
  // and pointing at --help. Sets help_requested() on -h/--help. Arguments
  // after "--" are positional. `args` excludes the program name.
  Status Parse(const std::vector<std::string>& args, const EnvLookup& env);
  // The same over main's argv and the process's environment.
  Status Parse(int argc, char** argv);

  const std::string& Get(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  // The value of an AddEnv() variable; "" when it is not set.
  const std::string& GetEnv(const std::string& env) const;
  // True when the flag came from the command line or the environment.
  bool IsSet(const std::string& name) const;
  bool help_requested() const { return help_requested_; }
  // Positional arguments (before or after flags).
  const std::vector<std::string>& positional() const { return positional_; }
  // The help text: one entry per flag, in the order added, as
  //   --name VALUE          (or N for an integer, nothing for a boolean)
  //       help (env SLUICE_NAME) [default value]
  // then the environment-only settings and the subcommands.
  std::string Usage() const;

 private:
  enum class Kind { kString, kBool, kInt };
  struct Flag {
    Kind kind = Kind::kString;
    std::string env;
    std::string default_value;
    std::string value;
    std::string help;
    int64_t min = 0;
    int64_t max = 0;
    int64_t int_value = 0;
    bool set = false;
  };
  struct Described {
    std::string name;
    std::string help;
  };
  void Add(const std::string& name, Flag flag);
  Status ReadEnvironment(const EnvLookup& env);
  Status SetValue(const std::string& name, Flag* flag, std::string value,
                  const std::string& source);

  std::string program_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<Described> env_only_;
  std::map<std::string, std::string> env_values_;
  std::vector<Described> subcommands_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

// What a daemon's command line asks for.
enum class DaemonMode {
  kRun,     // flags only: run the daemon
  kHelp,    // -h/--help: print Usage()
  kKeygen,  // `keygen`: print a new CurveZMQ keypair (platform/keygen.h)
};
// From a parsed FlagParser: kHelp when help was requested; kKeygen when
// the only positional argument is "keygen"; kRun without positional
// arguments; InvalidArgument naming the first unexpected argument
// otherwise.
StatusOr<DaemonMode> DaemonModeOf(const FlagParser& flags);

// A daemon's command line, parsed: what to do and, for kRun, the options
// built and checked from the flags.
template <typename Options>
struct DaemonCommandLine {
  DaemonMode mode = DaemonMode::kRun;
  std::string usage;  // FlagParser::Usage()
  Options options;    // kRun only
};

}  // namespace sluice
