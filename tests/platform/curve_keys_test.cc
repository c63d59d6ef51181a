#include "platform/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace sluice {
namespace {

// Z85 spec (rfc.zeromq.org/spec/32) test vector: these 8 bytes are
// "HelloWorld".
const std::string kHelloBytes = "\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B";

TEST(CurveKeysTest, EncodesTheSpecVector) {
  std::string key;
  for (int i = 0; i < 4; ++i) key += kHelloBytes;
  EXPECT_EQ(EncodeCurveKey(key), "HelloWorldHelloWorldHelloWorldHelloWorld");
  StatusOr<std::string> decoded =
      DecodeCurveKey("HelloWorldHelloWorldHelloWorldHelloWorld", "k");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, key);
  EXPECT_EQ(EncodeCurveKey("short"), "");
}

TEST(CurveKeysTest, GeneratedPairsAreValidDistinctAndMatch) {
  StatusOr<CurveKeyPair> a = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> b = GenerateCurveKeyPair();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(a->secret_key, b->secret_key);
  EXPECT_NE(a->public_key, a->secret_key);
  for (const std::string& key : {a->public_key, a->secret_key}) {
    EXPECT_TRUE(ValidateCurveKey(key, "k").ok()) << key;
    StatusOr<std::string> bytes = DecodeCurveKey(key, "k");
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->size(), kCurveKeyBytes);
    EXPECT_EQ(EncodeCurveKey(*bytes), key);
  }
  StatusOr<std::string> derived = CurvePublicKeyOf(a->secret_key);
  ASSERT_TRUE(derived.ok()) << derived.status().ToString();
  EXPECT_EQ(*derived, a->public_key);
}

TEST(CurveKeysTest, RefusesWhatIsNotAKey) {
  const std::string good = "HelloWorldHelloWorldHelloWorldHelloWorld";
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"", "0 characters"},
      {good.substr(1), "39 characters"},
      {good + "H", "41 characters"},
      {"~" + good.substr(1), "outside the Z85 alphabet at position 1"},
      {good.substr(0, 39) + " ", "outside the Z85 alphabet at position 40"},
      {good.substr(0, 39) + "\"", "outside the Z85 alphabet"},
      // "#####" = 85^5 - 1 > 2^32 - 1: no bytes encode to it.
      {"#####" + good.substr(5), "more than 32 bits"},
  };
  for (const Case& c : cases) {
    Status status = ValidateCurveKey(c.text, "public_key");
    ASSERT_FALSE(status.ok()) << c.text;
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(status.field(), "public_key");
    EXPECT_NE(status.message().find(c.says), std::string::npos)
        << status.message();
    EXPECT_NE(status.message().find("40 Z85 characters"), std::string::npos);
  }
}

TEST(CurveKeysTest, KeyFileRoundTripsAndDerivesThePublicKey) {
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  const std::string text = FormatCurveKeyFile(*pair, "line one\nline two");
  EXPECT_EQ(text.rfind("# line one\n# line two\npublic=", 0), 0u) << text;
  StatusOr<CurveKeyPair> parsed = ParseCurveKeyFile(text, "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->public_key, pair->public_key);
  EXPECT_EQ(parsed->secret_key, pair->secret_key);

  StatusOr<CurveKeyPair> secret_only =
      ParseCurveKeyFile("  secret = " + pair->secret_key + "  \r\n", "f");
  ASSERT_TRUE(secret_only.ok()) << secret_only.status().ToString();
  EXPECT_EQ(secret_only->public_key, pair->public_key);
}

TEST(CurveKeysTest, KeyFileErrorsSayWhatIsWrong) {
  StatusOr<CurveKeyPair> a = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> b = GenerateCurveKeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"public=" + a->public_key + "\n", "has no secret=<Z85> line"},
      {"public=" + b->public_key + "\nsecret=" + a->secret_key,
       "does not belong to the secret key"},
      {"secret=" + a->secret_key + "\nsecret=" + a->secret_key,
       "line 2 repeats 'secret'"},
      {"key=" + a->secret_key, "line 1 is neither public=... nor secret="},
      {"\nnot a key line", "line 2 is not name=value"},
      {"secret=" + a->secret_key.substr(1), "line 1 (secret key) has 39"},
  };
  for (const Case& c : cases) {
    StatusOr<CurveKeyPair> parsed = ParseCurveKeyFile(c.text, "the file X");
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_NE(parsed.status().message().find(c.says), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("the file X"), std::string::npos);
    // Never the secret itself in a message.
    EXPECT_EQ(parsed.status().message().find(a->secret_key), std::string::npos);
  }
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-curve-keys.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/agent.key";
    StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
    ASSERT_TRUE(pair.ok());
    pair_ = *pair;
    std::ofstream(path_) << FormatCurveKeyFile(pair_, "test");
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
  std::string path_;
  CurveKeyPair pair_;
};

TEST_F(KeyFileTest, ReadsAPrivateFile) {
  for (mode_t mode : {0600, 0400, 0640}) {
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
    StatusOr<CurveKeyPair> read = ReadCurveKeyFile(path_);
    ASSERT_TRUE(read.ok()) << mode << ": " << read.status().ToString();
    EXPECT_EQ(read->secret_key, pair_.secret_key);
    EXPECT_EQ(read->public_key, pair_.public_key);
  }
}

TEST_F(KeyFileTest, RefusesAFileOtherUsersCanRead) {
  for (mode_t mode : {0644, 0604, 0602, 0666}) {
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
    StatusOr<CurveKeyPair> read = ReadCurveKeyFile(path_);
    ASSERT_FALSE(read.ok()) << mode;
    EXPECT_NE(read.status().message().find("accessible to every user"),
              std::string::npos)
        << read.status().message();
    EXPECT_NE(read.status().message().find("chmod 600 " + path_),
              std::string::npos)
        << read.status().message();
  }
}

TEST_F(KeyFileTest, RefusesAMissingFileAndADirectory) {
  StatusOr<CurveKeyPair> missing = ReadCurveKeyFile(dir_ + "/nope.key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("No such file"), std::string::npos)
      << missing.status().message();
  ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
  StatusOr<CurveKeyPair> dir = ReadCurveKeyFile(dir_);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("not a regular file"),
            std::string::npos)
      << dir.status().message();
}

TEST_F(KeyFileTest, WritesANewFileOfMode0600WhateverTheUmask) {
  const std::string path = dir_ + "/written.key";
  const std::string text = FormatCurveKeyFile(pair_, "written");
  const mode_t old_umask = umask(0);  // would give 0666 to a plain create
  Status written = WriteCurveKeyFile(path, text);
  umask(old_umask);
  ASSERT_TRUE(written.ok()) << written.ToString();
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  StatusOr<CurveKeyPair> read = ReadCurveKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->secret_key, pair_.secret_key);
  unlink(path.c_str());
}

TEST_F(KeyFileTest, NeverOverwritesAKeyOrFollowsALink) {
  const std::string before = FormatCurveKeyFile(pair_, "test");
  Status again = WriteCurveKeyFile(path_, "public=x\n");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(again.message().find("exists already"), std::string::npos)
      << again.message();
  std::ifstream in(path_);
  std::string kept((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, before);

  // A dangling link: writing through it would create a file elsewhere.
  const std::string link = dir_ + "/link.key";
  const std::string target = dir_ + "/target.key";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(WriteCurveKeyFile(link, before).ok());
  EXPECT_NE(access(target.c_str(), F_OK), 0);
  unlink(link.c_str());

  Status no_dir = WriteCurveKeyFile(dir_ + "/missing/x.key", before);
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.message().find("No such file"), std::string::npos)
      << no_dir.message();
}

}  // namespace
}  // namespace sluice
