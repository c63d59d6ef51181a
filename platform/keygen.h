// The `keygen` subcommand of both daemons: a new CurveZMQ keypair as a key
// file on stdout (platform/curve_keys.h), and what to do with it on
// stderr, so that `sluice-agent keygen > agent.key` leaves only the key
// file in the file.
//
// Thread-safe (no shared state).
#pragma once

#include <ostream>
#include <string>

namespace sluice {

struct KeygenText {
  // "sluice-agent": names the key file's use and error messages.
  std::string program;
  // The file name suggested for the key, "agent.key".
  std::string key_file;
  // How the daemon uses the key file, "--curve-secret-key-file FILE".
  std::string use;
  // The next step, written after the public key on stderr: "Then allow
  // the agent at the controller: ... " + public key + ...
  std::string next_before_key;
  std::string next_after_key;
};

// Writes a new keypair to `out` and the instructions to `err`. Returns the
// process exit status: 0, or 1 (with a message on `err`) when no key can
// be made or `out` fails.
int RunKeygen(const KeygenText& text, std::ostream& out, std::ostream& err);

// What each daemon's keygen says.
KeygenText AgentKeygenText();
KeygenText ControllerKeygenText();

}  // namespace sluice
