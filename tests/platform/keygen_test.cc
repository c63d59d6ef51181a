#include "platform/keygen.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "platform/curve_keys.h"

namespace sluice {
namespace {

// Runs keygen into strings; the key file parses and its public key is in
// the instructions.
struct Generated {
  int status = -1;
  std::string out;
  std::string err;
  CurveKeyPair pair;
};

Generated Generate(const KeygenText& text) {
  std::ostringstream out;
  std::ostringstream err;
  Generated generated;
  generated.status = RunKeygen(text, out, err);
  generated.out = out.str();
  generated.err = err.str();
  StatusOr<CurveKeyPair> pair = ParseCurveKeyFile(generated.out, "keygen");
  EXPECT_TRUE(pair.ok()) << pair.status().ToString() << "\n" << generated.out;
  if (pair.ok()) generated.pair = *pair;
  return generated;
}

TEST(KeygenTest, AgentKeyFileAndWhatToDoWithIt) {
  const Generated agent = Generate(AgentKeygenText());
  EXPECT_EQ(agent.status, 0);
  EXPECT_EQ(agent.out.rfind("# sluice-agent CurveZMQ keypair.", 0), 0u)
      << agent.out;
  EXPECT_NE(agent.out.find("# Use: sluice-agent --curve-secret-key-file FILE "
                           "--controller-public-key KEY\n"),
            std::string::npos)
      << agent.out;
  EXPECT_EQ(agent.err,
            "Save it privately: (umask 077; sluice-agent keygen > "
            "agent.key)\nThen allow the agent at the controller: POST "
            "/api/v1/agent-keys {\"name\": \"...\", \"public_key\": \"" +
                agent.pair.public_key + "\"}\n");
}

TEST(KeygenTest, ControllerKeyFileAndWhatToDoWithIt) {
  const Generated controller = Generate(ControllerKeygenText());
  EXPECT_EQ(controller.status, 0);
  EXPECT_NE(controller.out.find("# Use: sluice-controller "
                                "--curve-secret-key-file FILE\n"),
            std::string::npos)
      << controller.out;
  EXPECT_EQ(controller.err,
            "Save it privately: (umask 077; sluice-controller keygen > "
            "controller.key)\nThen give agents --controller-public-key " +
                controller.pair.public_key + "\n");
}

TEST(KeygenTest, EveryRunMakesANewKey) {
  EXPECT_NE(Generate(AgentKeygenText()).pair.secret_key,
            Generate(AgentKeygenText()).pair.secret_key);
}

TEST(KeygenTest, AFailedWriteIsAFailure) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  std::ostringstream err;
  EXPECT_EQ(RunKeygen(AgentKeygenText(), out, err), 1);
  EXPECT_EQ(err.str(), "sluice-agent: cannot write the key file to stdout\n");
}

}  // namespace
}  // namespace sluice
