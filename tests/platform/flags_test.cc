#include "platform/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

// Runs Parse over `args` (argv[0] is added).
Status ParseArgs(FlagParser* flags, std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return flags->Parse(static_cast<int>(argv.size()), argv.data());
}

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    setenv(name, value, 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

FlagParser MakeFlags() {
  FlagParser flags("prog");
  flags.AddString("db", "SLUICE_TEST_FLAGS_DB", "default-db", "database");
  flags.AddString("http", "SLUICE_TEST_FLAGS_HTTP", "127.0.0.1:8080", "listen");
  flags.AddBool("insecure", "SLUICE_TEST_FLAGS_INSECURE", "no keys");
  return flags;
}

TEST(FlagsTest, DefaultsApplyWhenNothingIsGiven) {
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {}).ok());
  EXPECT_EQ(flags.Get("db"), "default-db");
  EXPECT_FALSE(flags.IsSet("db"));
  EXPECT_FALSE(flags.GetBool("insecure"));
  EXPECT_FALSE(flags.help_requested());
}

TEST(FlagsTest, AcceptsSeparateAndInlineValues) {
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {"--db", "host=x", "--http=0.0.0.0:1"}).ok());
  EXPECT_EQ(flags.Get("db"), "host=x");
  EXPECT_EQ(flags.Get("http"), "0.0.0.0:1");
  EXPECT_TRUE(flags.IsSet("db"));
  EXPECT_TRUE(flags.IsSet("http"));
}

TEST(FlagsTest, InlineValueMayContainEqualsAndBeEmpty) {
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {"--db=host=a port=5"}).ok());
  EXPECT_EQ(flags.Get("db"), "host=a port=5");
  FlagParser empty = MakeFlags();
  ASSERT_TRUE(ParseArgs(&empty, {"--db="}).ok());
  EXPECT_EQ(empty.Get("db"), "");
  EXPECT_TRUE(empty.IsSet("db"));
}

TEST(FlagsTest, EnvironmentOverridesDefaultAndCommandLineOverridesBoth) {
  ScopedEnv env("SLUICE_TEST_FLAGS_DB", "from-env");
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {}).ok());
  EXPECT_EQ(flags.Get("db"), "from-env");
  EXPECT_TRUE(flags.IsSet("db"));
  FlagParser cli = MakeFlags();
  ASSERT_TRUE(ParseArgs(&cli, {"--db", "from-cli"}).ok());
  EXPECT_EQ(cli.Get("db"), "from-cli");
}

TEST(FlagsTest, BooleanFlagTakesNoValue) {
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {"--insecure"}).ok());
  EXPECT_TRUE(flags.GetBool("insecure"));
  FlagParser bad = MakeFlags();
  Status st = ParseArgs(&bad, {"--insecure=true"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("takes no value"), std::string::npos);
}

TEST(FlagsTest, BooleanFromTheEnvironment) {
  for (const char* yes : {"1", "true", "TRUE", "yes", "on"}) {
    ScopedEnv env("SLUICE_TEST_FLAGS_INSECURE", yes);
    FlagParser flags = MakeFlags();
    ASSERT_TRUE(ParseArgs(&flags, {}).ok()) << yes;
    EXPECT_TRUE(flags.GetBool("insecure")) << yes;
  }
  for (const char* no : {"0", "false", "no", "off", ""}) {
    ScopedEnv env("SLUICE_TEST_FLAGS_INSECURE", no);
    FlagParser flags = MakeFlags();
    ASSERT_TRUE(ParseArgs(&flags, {}).ok()) << no;
    EXPECT_FALSE(flags.GetBool("insecure")) << no;
  }
}

TEST(FlagsTest, RefusesABooleanEnvironmentValueItCannotRead) {
  ScopedEnv env("SLUICE_TEST_FLAGS_INSECURE", "maybe");
  FlagParser flags = MakeFlags();
  Status st = ParseArgs(&flags, {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("SLUICE_TEST_FLAGS_INSECURE='maybe'"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("write 1, true"), std::string::npos);
}

TEST(FlagsTest, RefusesUnknownFlagsAndPointsAtHelp) {
  FlagParser flags = MakeFlags();
  Status st = ParseArgs(&flags, {"--dbb", "x"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "unknown flag --dbb; run prog --help for the flags");
}

TEST(FlagsTest, RefusesAMissingValue) {
  FlagParser flags = MakeFlags();
  Status st = ParseArgs(&flags, {"--db"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("flag --db needs a value"), std::string::npos);
}

TEST(FlagsTest, RefusesAFlagTakenForAValue) {
  FlagParser flags = MakeFlags();
  Status st = ParseArgs(&flags, {"--db", "--http", "x:1"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("flag --db needs a value"), std::string::npos);
  FlagParser inline_value = MakeFlags();
  ASSERT_TRUE(ParseArgs(&inline_value, {"--db=--odd"}).ok());
  EXPECT_EQ(inline_value.Get("db"), "--odd");
}

TEST(FlagsTest, HelpAndPositionalArguments) {
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(ParseArgs(&flags, {"pos1", "-h", "--db", "x", "pos2"}).ok());
  EXPECT_TRUE(flags.help_requested());
  EXPECT_EQ(flags.positional(), (std::vector<std::string>{"pos1", "pos2"}));
  FlagParser dashdash = MakeFlags();
  ASSERT_TRUE(ParseArgs(&dashdash, {"--help", "--", "--db", "x"}).ok());
  EXPECT_TRUE(dashdash.help_requested());
  EXPECT_EQ(dashdash.positional(), (std::vector<std::string>{"--db", "x"}));
  EXPECT_FALSE(dashdash.IsSet("db"));
}

TEST(FlagsTest, UsageListsFlagsInOrderWithEnvAndDefaults) {
  FlagParser flags = MakeFlags();
  flags.AddString("db", "SLUICE_TEST_FLAGS_DB", "other", "database again");
  std::string usage = flags.Usage();
  EXPECT_EQ(usage.find("usage: prog"), 0u);
  size_t db = usage.find("--db VALUE");
  size_t http = usage.find("--http VALUE");
  size_t insecure = usage.find("--insecure\n");
  ASSERT_NE(db, std::string::npos);
  ASSERT_NE(http, std::string::npos);
  ASSERT_NE(insecure, std::string::npos);
  EXPECT_LT(db, http);
  EXPECT_LT(http, insecure);
  EXPECT_EQ(usage.find("--db VALUE", db + 1), std::string::npos);  // once
  EXPECT_NE(usage.find("(env SLUICE_TEST_FLAGS_HTTP)"), std::string::npos);
  EXPECT_NE(usage.find("[default 127.0.0.1:8080]"), std::string::npos);
}

}  // namespace
}  // namespace sluice
