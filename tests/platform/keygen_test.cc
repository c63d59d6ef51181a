// The `keygen` subcommand (platform/keygen.h): standard output or --out.
#include "platform/keygen.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "platform/curve_keys.h"

namespace sluice {
namespace {

KeygenText Text() {
  KeygenText text;
  text.program = "sluice-test";
  text.comment = "a test key";
  text.next_steps = [](const std::string& public_key) {
    return "next: " + public_key;
  };
  return text;
}

class KeygenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-keygen.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(KeygenTest, WritesTheKeyFileToStandardOutput) {
  ASSERT_EQ(RunKeygen(Text(), {}, out_, err_), 0) << err_.str();
  StatusOr<CurveKeyPair> pair = ParseCurveKeyFile(out_.str(), "stdout");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_NE(out_.str().find("# a test key\n"), std::string::npos);
  EXPECT_NE(err_.str().find("next: " + pair->public_key), std::string::npos)
      << err_.str();
}

TEST_F(KeygenTest, OutWritesAPrivateFileAndNothingSecretElsewhere) {
  const std::string path = dir_ + "/agent.key";
  ASSERT_EQ(RunKeygen(Text(), {"--out", path}, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(), "");
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  StatusOr<CurveKeyPair> pair = ReadCurveKeyFile(path);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(err_.str().find(pair->secret_key), std::string::npos);
  EXPECT_NE(err_.str().find("next: " + pair->public_key), std::string::npos);

  // A second run keeps the first key.
  std::ostringstream again_err;
  EXPECT_EQ(RunKeygen(Text(), {"--out=" + path}, out_, again_err), 1);
  EXPECT_NE(again_err.str().find("exists already"), std::string::npos)
      << again_err.str();
  StatusOr<CurveKeyPair> kept = ReadCurveKeyFile(path);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->secret_key, pair->secret_key);
}

TEST_F(KeygenTest, RefusesBadArgumentsWithAMessage) {
  EXPECT_EQ(RunKeygen(Text(), {"--out"}, out_, err_), 2);
  EXPECT_NE(err_.str().find("--out needs a value"), std::string::npos)
      << err_.str();
  EXPECT_EQ(RunKeygen(Text(), {"--out="}, out_, err_), 2);
  EXPECT_NE(err_.str().find("--out is empty"), std::string::npos) << err_.str();
  EXPECT_EQ(RunKeygen(Text(), {"--force"}, out_, err_), 2);
  EXPECT_NE(err_.str().find("unknown flag --force"), std::string::npos)
      << err_.str();
  EXPECT_EQ(RunKeygen(Text(), {"extra"}, out_, err_), 2);
  EXPECT_NE(err_.str().find("unexpected argument 'extra'"), std::string::npos)
      << err_.str();
  EXPECT_EQ(out_.str(), "");
}

TEST_F(KeygenTest, HelpNamesOut) {
  EXPECT_EQ(RunKeygen(Text(), {"--help"}, out_, err_), 0);
  EXPECT_NE(out_.str().find("usage: sluice-test keygen"), std::string::npos);
  EXPECT_NE(out_.str().find("--out VALUE"), std::string::npos) << out_.str();
}

}  // namespace
}  // namespace sluice
