// ChildProcess: a daemon under test, started with posix_spawn and always
// cleaned up by its PID (SIGTERM, then SIGKILL after a grace period) when
// the object goes away, so no test leaves a process behind.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace sluice::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // Starts `argv[0]` (a path) with `argv`, the current environment plus
  // `env`, stdout and stderr appended to `log_path`. Throws on failure.
  void Start(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& env,
             const std::string& log_path);

  // SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit status
  // (as from waitpid) or -1 when not running.
  int Stop();
  // SIGKILL at once (crash simulation).
  void Kill();
  // True while the child has not exited.
  bool Running();
  pid_t pid() const { return pid_; }
  // The tail of the log file, for failure messages.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Path of a binary built by this CMake tree ("agent/sluice-agent").
std::string BuiltBinary(const std::string& relative);

}  // namespace sluice::testing
