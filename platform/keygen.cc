#include "platform/keygen.h"

#include "common/status.h"
#include "platform/curve_keys.h"

namespace sluice {

int RunKeygen(const KeygenText& text, std::ostream& out, std::ostream& err) {
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  if (!pair.ok()) {
    err << text.program << ": " << pair.status().message() << "\n";
    return 1;
  }
  out << FormatCurveKeyFile(*pair,
                            text.program +
                                " CurveZMQ keypair. Secret: keep this file "
                                "mode 0600.\nUse: " +
                                text.program + " " + text.use);
  out.flush();
  if (!out.good()) {
    err << text.program << ": cannot write the key file to stdout\n";
    return 1;
  }
  err << "Save it privately: (umask 077; " << text.program << " keygen > "
      << text.key_file << ")\n"
      << text.next_before_key << pair->public_key << text.next_after_key
      << "\n";
  return 0;
}

KeygenText AgentKeygenText() {
  KeygenText text;
  text.program = "sluice-agent";
  text.key_file = "agent.key";
  text.use = "--curve-secret-key-file FILE --controller-public-key KEY";
  text.next_before_key =
      "Then allow the agent at the controller: POST /api/v1/agent-keys "
      "{\"name\": \"...\", \"public_key\": \"";
  text.next_after_key = "\"}";
  return text;
}

KeygenText ControllerKeygenText() {
  KeygenText text;
  text.program = "sluice-controller";
  text.key_file = "controller.key";
  text.use = "--curve-secret-key-file FILE";
  text.next_before_key = "Then give agents --controller-public-key ";
  return text;
}

}  // namespace sluice
