#include "platform/keygen.h"

#include "platform/curve_keys.h"
#include "platform/flags.h"

namespace sluice {

int RunKeygen(const KeygenText& text, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err) {
  FlagParser flags(text.program + " keygen");
  flags.AddString("out", "", "",
                  "write the key file to FILE, created with mode 0600 (an "
                  "existing FILE is refused); default: standard output");
  std::vector<std::string> storage = {text.program + " keygen"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  Status parsed = flags.Parse(static_cast<int>(argv.size()), argv.data());
  if (!parsed.ok()) {
    err << text.program << " keygen: " << parsed.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    out << flags.Usage();
    return 0;
  }
  if (!flags.positional().empty()) {
    err << text.program << " keygen: unexpected argument '"
        << flags.positional().front()
        << "'; the only flag is --out FILE, see keygen --help\n";
    return 2;
  }
  const std::string& path = flags.Get("out");
  if (flags.IsSet("out") && path.empty()) {
    err << text.program
        << " keygen: --out is empty; give the path of the key file to "
           "create, e.g. --out /etc/sluice/agent.key\n";
    return 2;
  }

  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  if (!pair.ok()) {
    err << text.program << " keygen: " << pair.status().message() << "\n";
    return 1;
  }
  const std::string file = FormatCurveKeyFile(*pair, text.comment);
  if (path.empty()) {
    out << file;
    out.flush();
    if (!out.good()) {
      err << text.program << " keygen: cannot write to standard output\n";
      return 1;
    }
    err << "Save it privately: (umask 077; " << text.program
        << " keygen > FILE), or " << text.program << " keygen --out FILE\n";
  } else {
    Status written = WriteCurveKeyFile(path, file);
    if (!written.ok()) {
      err << text.program << " keygen: " << written.message() << "\n";
      return 1;
    }
    err << "Wrote " << path << " (mode 0600).\n";
  }
  if (text.next_steps) err << text.next_steps(pair->public_key) << "\n";
  return 0;
}

KeygenText AgentKeygenText() {
  KeygenText text;
  text.program = "sluice-agent";
  text.comment =
      "sluice-agent CurveZMQ keypair. Secret: keep this file mode 0600.\n"
      "Use: sluice-agent --curve-secret-key-file FILE "
      "--controller-public-key KEY";
  text.next_steps = [](const std::string& public_key) {
    return "Then allow the agent at the controller: POST /api/v1/agent-keys "
           "{\"name\": \"...\", \"public_key\": \"" +
           public_key + "\"}";
  };
  return text;
}

KeygenText ControllerKeygenText() {
  KeygenText text;
  text.program = "sluice-controller";
  text.comment =
      "sluice-controller CurveZMQ keypair. Secret: keep this file mode "
      "0600.\nUse: sluice-controller --curve-secret-key-file FILE";
  text.next_steps = [](const std::string& public_key) {
    return "Then give agents --controller-public-key " + public_key;
  };
  return text;
}

}  // namespace sluice
