// The `keygen` subcommand of both daemons: a new CurveZMQ keypair as a key
// file (platform/curve_keys.h), on standard output or, with --out FILE, in a
// new file of mode 0600.
//
//   sluice-agent keygen [--out FILE]
//   sluice-controller keygen [--out FILE]
//
// Standard output carries the key file only (without --out), so that it can
// be redirected; what to do next goes to standard error.
//
// Thread-compatible.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace sluice {

struct KeygenText {
  std::string program;  // "sluice-agent"
  // Comment lines at the top of the key file.
  std::string comment;
  // What to do with the new key, given its public key (for standard error).
  std::function<std::string(const std::string& public_key)> next_steps;
};

// Runs `keygen` with its arguments `args` (those after "keygen"). Returns
// the process exit status: 0 when the key was written, 1 when generating or
// writing failed, 2 on bad arguments (each with a message on `err`).
int RunKeygen(const KeygenText& text, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err);

// What each daemon's keygen says.
KeygenText AgentKeygenText();
KeygenText ControllerKeygenText();

}  // namespace sluice
