// ScratchPostgres: a throwaway PostgreSQL cluster of the test's own, in a
// temporary directory on a free port, that a test may stop and start at
// will (the shared test server must never be stopped). As root, initdb and
// pg_ctl run as the postgres user (they refuse root), as deploy/lib.sh
// pg_start does. Stopped by PID (postmaster.pid) and removed when the
// object goes away.
//
// fsync is off for speed; synchronous_commit stays on, so a commit the
// client saw survives an immediate (crash) stop.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tests/support/free_port.h"

namespace sluice::testing {

class ScratchPostgres {
 public:
  ScratchPostgres() {
    bin_ = FindBinDir();
    dir_ = "/tmp/sluice_scratch_pg_" + std::to_string(::getpid()) + "_" +
           std::to_string(reinterpret_cast<uintptr_t>(this) % 100000);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/data");
    std::filesystem::create_directories(dir_ + "/sock");
    if (::geteuid() == 0) {
      Shell("chown -R postgres:postgres " + dir_ + " && chmod 700 " + dir_ +
            "/data");
    }
    port_ = PickFreePort();
    Shell(AsPostgres(bin_ + "/initdb -D " + dir_ +
                     "/data -A trust -U postgres --no-sync") +
          " >" + dir_ + "/initdb.log 2>&1");
  }
  ~ScratchPostgres() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchPostgres(const ScratchPostgres&) = delete;
  ScratchPostgres& operator=(const ScratchPostgres&) = delete;

  void Start() {
    Shell(AsPostgres(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                     "/data/server.log -w -t 60 -o \"-p " +
                     std::to_string(port_) + " -k " + dir_ +
                     "/sock -c listen_addresses=127.0.0.1 -c fsync=off\" "
                     "start") +
          " >/dev/null 2>&1");
  }
  // Stops the server at once, as a crash would (no checkpoint; the WAL
  // brings committed work back at the next start). No-op when stopped.
  void Stop() {
    pid_t pid = PostmasterPid();
    if (pid <= 0) return;
    ::kill(pid, SIGQUIT);  // "immediate shutdown"
    for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i) ::usleep(20000);
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) ::usleep(20000);
    std::error_code ec;
    std::filesystem::remove(dir_ + "/data/postmaster.pid", ec);
  }

  std::string conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=postgres dbname=postgres";
  }
  std::string ServerLog() const {
    std::ifstream in(dir_ + "/data/server.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  static std::string FindBinDir() {
    for (const char* version : {"17", "16", "15", "14", "13"}) {
      std::string dir = std::string("/usr/lib/postgresql/") + version + "/bin";
      if (std::filesystem::exists(dir + "/pg_ctl")) return dir;
    }
    throw std::runtime_error(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; "
        "install postgresql");
  }
  static void Shell(const std::string& command) {
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("failed: " + command);
    }
  }
  static std::string AsPostgres(const std::string& command) {
    if (::geteuid() != 0) return command;
    return "cd / && runuser -u postgres -- " + command;
  }
  pid_t PostmasterPid() const {
    std::ifstream in(dir_ + "/data/postmaster.pid");
    long pid = 0;
    if (!(in >> pid)) return -1;
    return static_cast<pid_t>(pid);
  }

  std::string bin_;
  std::string dir_;
  uint16_t port_ = 0;
};

}  // namespace sluice::testing
