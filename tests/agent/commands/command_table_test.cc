#include "agent/commands/command_table.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "tests/agent/allocation_counter.h"

namespace sluice {
namespace {

CommandOutcome Nothing(CommandContext*, const CommandRequest&) { return {}; }

std::string Cased(std::string_view name, bool upper_first) {
  std::string out(name);
  bool upper = upper_first;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    upper = !upper;
  }
  return out;
}

std::string Lower(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

TEST(CommandTableTest, TheAgentsCommandsInAnyCase) {
  const CommandTable& table = AgentCommandTable();
  EXPECT_EQ(table.size(), 10u);
  for (std::string_view name :
       {"RL.CHECK", "RL.ACQUIRE", "RL.INFO", "PING", "ECHO", "QUIT", "HELLO",
        "COMMAND", "CONFIG", "CLIENT"}) {
    for (const std::string& spelled : {std::string(name), Lower(name),
                                       Cased(name, true), Cased(name, false)}) {
      const CommandSpec* spec = table.Find(spelled);
      ASSERT_NE(spec, nullptr) << spelled;
      EXPECT_EQ(spec->name, name) << spelled;
    }
  }
  EXPECT_NE(table.Find("rl.check")->prepare, nullptr);
  EXPECT_EQ(table.Find("PING")->prepare, nullptr);
  EXPECT_EQ(table.names(),
            "RL.CHECK, RL.ACQUIRE, RL.INFO, PING, ECHO, QUIT, HELLO, COMMAND, "
            "CONFIG GET and CLIENT");
}

TEST(CommandTableTest, NearMissesAreNotCommands) {
  const CommandTable& table = AgentCommandTable();
  for (std::string_view name : std::initializer_list<std::string_view>{
           "", "RL.CHECKS", "RL.CHEC", "RLXCHECK", "RL CHECK", "RL.CHECK ",
           "RL.ACQUIREX", "PIN", "PINGG", "P1NG", "CONFIG GET",
           std::string_view("PING\0", 5), std::string_view("RL.CHECK\0", 9),
           "RL.CHECKRL.CHECKRL.CHECK"}) {
    EXPECT_EQ(table.Find(name), nullptr) << name;
  }
}

// Every byte in every position of the longest name: only the same letter,
// in either case, finds it (no other byte folds onto a letter, and no
// letter onto another byte).
TEST(CommandTableTest, CaseFoldingTouchesAsciiLettersOnly) {
  const std::string name = "AbC.[@`{_z~0Zqr9";  // 16 bytes
  ASSERT_EQ(name.size(), CommandTable::kMaxNameBytes);
  const CommandTable table({{name, Nothing}});
  ASSERT_NE(table.Find(name), nullptr);
  for (size_t pos = 0; pos < name.size(); ++pos) {
    const unsigned char original = static_cast<unsigned char>(name[pos]);
    const bool letter = (original | 0x20) >= 'a' && (original | 0x20) <= 'z';
    for (int b = 0; b < 256; ++b) {
      std::string probe = name;
      probe[pos] = static_cast<char>(b);
      const bool same =
          b == original || (letter && (b | 0x20) == (original | 0x20) &&
                            (b & 0xdf) >= 'A' && (b & 0xdf) <= 'Z');
      EXPECT_EQ(table.Find(probe) != nullptr, same)
          << "byte " << b << " at " << pos;
    }
  }
}

TEST(CommandTableTest, LeavesOutEmptyLongAndRepeatedNames) {
  const CommandTable table({{"", Nothing},
                            {"SEVENTEEN-BYTES-X", Nothing},
                            {"PING", Nothing},
                            {"ping", Nothing, nullptr, "again"},
                            {"ECHO", Nothing}});
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.names(), "PING and ECHO");
  EXPECT_EQ(table.Find("SEVENTEEN-BYTES-X"), nullptr);
}

TEST(CommandTableTest, LookupsAllocateNothing) {
  const CommandTable& table = AgentCommandTable();
  const int64_t before = testing::ThreadAllocations();
  size_t found = 0;
  for (int i = 0; i < 1000; ++i) {
    found += table.Find("rl.check") != nullptr;
    found += table.Find("RL.ACQUIRE") != nullptr;
    found += table.Find("NOSUCHCOMMAND") != nullptr;
  }
  EXPECT_EQ(testing::ThreadAllocations(), before);
  EXPECT_EQ(found, 2000u);
}

}  // namespace
}  // namespace sluice
