#include "platform/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
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

// Parses `args` with an environment of its own.
Status ParseWithEnv(FlagParser* flags, const std::vector<std::string>& args,
                    std::map<std::string, std::string> env) {
  return flags->Parse(args, MapEnv(std::move(env)));
}

FlagParser MakeIntFlags() {
  FlagParser flags("prog");
  flags.AddInt("ttl", "TTL_ENV", 2000, 1, 86400000, "lifetime, in ms");
  flags.AddInt("offset", "", -5, -10, 10, "a signed one");
  return flags;
}

TEST(FlagsTest, TheGivenEnvironmentIsTheOnlyOneRead) {
  ScopedEnv process("SLUICE_TEST_FLAGS_DB", "from-process");
  FlagParser flags = MakeFlags();
  ASSERT_TRUE(
      ParseWithEnv(&flags, {}, {{"SLUICE_TEST_FLAGS_HTTP", "h:1"}}).ok());
  EXPECT_EQ(flags.Get("db"), "default-db");
  EXPECT_EQ(flags.Get("http"), "h:1");
  EXPECT_TRUE(flags.IsSet("http"));
}

TEST(FlagsTest, IntegerFlagsTakeWholeNumbersInTheirRange) {
  FlagParser defaults = MakeIntFlags();
  ASSERT_TRUE(ParseWithEnv(&defaults, {}, {}).ok());
  EXPECT_EQ(defaults.GetInt("ttl"), 2000);
  EXPECT_EQ(defaults.GetInt("offset"), -5);
  FlagParser given = MakeIntFlags();
  ASSERT_TRUE(
      ParseWithEnv(&given, {"--ttl", "86400000", "--offset=-10"}, {}).ok());
  EXPECT_EQ(given.GetInt("ttl"), 86400000);
  EXPECT_EQ(given.GetInt("offset"), -10);
  EXPECT_EQ(given.Get("ttl"), "86400000");
  FlagParser from_env = MakeIntFlags();
  ASSERT_TRUE(ParseWithEnv(&from_env, {}, {{"TTL_ENV", "1"}}).ok());
  EXPECT_EQ(from_env.GetInt("ttl"), 1);
}

TEST(FlagsTest, IntegerFlagErrorsNameTheFlagTheValueAndTheRange) {
  for (const char* bad : {"0", "86400001", "-1", "soon", "", "1.5", "+5", " 5",
                          "5 ", "1e3", "99999999999999999999"}) {
    FlagParser flags = MakeIntFlags();
    Status st = ParseWithEnv(&flags, {"--ttl=" + std::string(bad)}, {});
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(st.message(), "--ttl '" + std::string(bad) +
                                "' is not valid: expected a whole number "
                                "from 1 to 86400000")
        << bad;
  }
  FlagParser flags = MakeIntFlags();
  Status st = ParseWithEnv(&flags, {"--offset", "11"}, {});
  EXPECT_EQ(st.message(),
            "--offset '11' is not valid: expected a whole number from -10 "
            "to 10");
}

TEST(FlagsTest, AnIntegerFromTheEnvironmentNamesTheVariable) {
  FlagParser flags = MakeIntFlags();
  Status st = ParseWithEnv(&flags, {}, {{"TTL_ENV", "later"}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "--ttl 'later' (from TTL_ENV) is not valid: expected a whole "
            "number from 1 to 86400000");
  // The command line wins: the environment's value is never read.
  FlagParser overridden = MakeIntFlags();
  ASSERT_TRUE(
      ParseWithEnv(&overridden, {"--ttl", "7"}, {{"TTL_ENV", "later"}}).ok());
  EXPECT_EQ(overridden.GetInt("ttl"), 7);
}

TEST(FlagsTest, ParseIntFlagAlone) {
  StatusOr<int64_t> min =
      ParseIntFlag("-9223372036854775808", "n", INT64_MIN, INT64_MAX);
  ASSERT_TRUE(min.ok()) << min.status().ToString();
  EXPECT_EQ(*min, INT64_MIN);
  StatusOr<int64_t> max =
      ParseIntFlag("9223372036854775807", "n", INT64_MIN, INT64_MAX);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, INT64_MAX);
  EXPECT_FALSE(
      ParseIntFlag("9223372036854775808", "n", INT64_MIN, INT64_MAX).ok());
  EXPECT_FALSE(ParseIntFlag("-", "n", INT64_MIN, INT64_MAX).ok());
  EXPECT_EQ(ParseIntFlag("0x10", "n", 0, 100).status().field(), "n");
}

TEST(FlagsTest, EnvironmentOnlySettingsAreReadAndListed) {
  FlagParser flags = MakeFlags();
  flags.AddEnv("SLUICE_TEST_FLAGS_TOKEN", "a secret");
  ASSERT_TRUE(ParseWithEnv(&flags, {}, {}).ok());
  EXPECT_EQ(flags.GetEnv("SLUICE_TEST_FLAGS_TOKEN"), "");
  FlagParser given = MakeFlags();
  given.AddEnv("SLUICE_TEST_FLAGS_TOKEN", "a secret");
  ASSERT_TRUE(
      ParseWithEnv(&given, {}, {{"SLUICE_TEST_FLAGS_TOKEN", "t0k"}}).ok());
  EXPECT_EQ(given.GetEnv("SLUICE_TEST_FLAGS_TOKEN"), "t0k");
  const std::string usage = given.Usage();
  EXPECT_NE(usage.find("\nenvironment:\n  SLUICE_TEST_FLAGS_TOKEN\n      a "
                       "secret\n"),
            std::string::npos)
      << usage;
}

TEST(FlagsTest, UsageShowsIntegerRangesDefaultsAndSubcommands) {
  FlagParser flags = MakeIntFlags();
  flags.AddSubcommand("keygen", "make a key");
  // What was parsed does not change the defaults shown.
  ASSERT_TRUE(ParseWithEnv(&flags, {"--ttl", "5"}, {}).ok());
  const std::string usage = flags.Usage();
  EXPECT_EQ(usage.find("usage: prog [flags]\n       prog keygen\n"), 0u)
      << usage;
  EXPECT_NE(usage.find("  --ttl N\n      lifetime, in ms, from 1 to 86400000 "
                       "(env TTL_ENV) [default 2000]\n"),
            std::string::npos)
      << usage;
  EXPECT_NE(usage.find("\nsubcommands:\n  keygen\n      make a key\n"),
            std::string::npos)
      << usage;
}

TEST(DaemonModeTest, RunHelpKeygenOrAClearError) {
  struct Case {
    std::vector<std::string> args;
    DaemonMode mode;
  } cases[] = {
      {{}, DaemonMode::kRun},
      {{"--db", "x"}, DaemonMode::kRun},
      {{"--help"}, DaemonMode::kHelp},
      {{"keygen", "-h"}, DaemonMode::kHelp},
      {{"keygen"}, DaemonMode::kKeygen},
      {{"--db", "x", "keygen"}, DaemonMode::kKeygen},
  };
  for (const Case& c : cases) {
    FlagParser flags = MakeFlags();
    ASSERT_TRUE(ParseWithEnv(&flags, c.args, {}).ok());
    StatusOr<DaemonMode> mode = DaemonModeOf(flags);
    ASSERT_TRUE(mode.ok()) << mode.status().ToString();
    EXPECT_EQ(*mode, c.mode);
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"start"}, {"keygen", "start"}, {"start", "keygen"}}) {
    FlagParser flags = MakeFlags();
    ASSERT_TRUE(ParseWithEnv(&flags, args, {}).ok());
    StatusOr<DaemonMode> mode = DaemonModeOf(flags);
    ASSERT_FALSE(mode.ok());
    EXPECT_EQ(mode.status().message(),
              "unexpected argument 'start': every setting is a --flag and "
              "the only subcommand is keygen; run with --help for the flags");
  }
}

}  // namespace
}  // namespace sluice
