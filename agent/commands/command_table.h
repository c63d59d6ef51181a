// CommandTable: command name -> handler, looked up case-insensitively (as
// Redis does: "rl.check", "RL.CHECK" and "Rl.Check" are one command)
// without allocating, on every request's path.
//
// A name is at most kMaxNameBytes bytes. Each name is kept folded to
// lower case in two 64-bit words; Find() folds the request's name the same
// way (eight bytes at a time, ASCII letters only) and compares words, so
// a lookup is a few instructions per entry. Entries are compared in table
// order: put the hot commands first.
//
// AgentCommandTable() is the agent's table; the handlers it names are in
// rate_limit_commands.h and redis_commands.h.
//
// Immutable after construction; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "agent/commands/command.h"

namespace sluice {

struct CommandSpec {
  // As documented, in upper case: "RL.CHECK". Unique in a table, at most
  // CommandTable::kMaxNameBytes bytes.
  std::string_view name;
  CommandFn run;
  // Null: nothing to prepare (see PrepareFn).
  PrepareFn prepare = nullptr;
  // How the unknown-command error lists it; empty: `name`.
  std::string_view listed_as = {};
};

class CommandTable {
 public:
  static constexpr size_t kMaxNameBytes = 16;

  // Specs whose name is empty, longer than kMaxNameBytes or already in the
  // table are left out (the table's test checks every spec is found).
  explicit CommandTable(std::initializer_list<CommandSpec> specs);

  // The spec named `name` in any case; null when there is none.
  const CommandSpec* Find(std::string_view name) const {
    Key key;
    if (!MakeKey(name, &key)) return nullptr;
    for (const Entry& entry : entries_) {
      if (entry.key.lo == key.lo && entry.key.hi == key.hi &&
          entry.key.size == key.size) {
        return &entry.spec;
      }
    }
    return nullptr;
  }

  size_t size() const { return entries_.size(); }
  // "RL.CHECK, RL.ACQUIRE, ..., CONFIG GET and CLIENT": the commands in
  // table order, for the unknown-command error.
  const std::string& names() const { return names_; }

 private:
  // A name folded to lower case, zero-padded to 16 bytes.
  struct Key {
    uint64_t lo = 0;
    uint64_t hi = 0;
    size_t size = 0;
  };
  struct Entry {
    Key key;
    CommandSpec spec;
  };

  // False when `name` is longer than kMaxNameBytes (no command has it).
  static bool MakeKey(std::string_view name, Key* key) {
    const size_t n = name.size();
    if (n > kMaxNameBytes) return false;
    key->size = n;
    if (n >= 8) {
      key->lo = FoldWord(Load8(name.data()));
      key->hi = FoldWord(LoadPartial(name.data() + 8, n - 8));
    } else {
      key->lo = FoldWord(LoadPartial(name.data(), n));
      key->hi = 0;
    }
    return true;
  }
  static uint64_t Load8(const char* p) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
  }
  // n <= 8 bytes at p, zero-padded (never reads past p + n).
  static uint64_t LoadPartial(const char* p, size_t n) {
    if (n == 8) return Load8(p);
    uint64_t word = 0;
    for (size_t i = 0; i < n; ++i) {
      word |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    }
    return word;
  }
  // Lower-cases the ASCII letters among eight bytes, all at once: for each
  // byte below 0x80, its seven low bits plus (0x80 - 'A') carry into the
  // byte's top bit exactly when it is >= 'A', and plus (0x80 - 'Z' - 1)
  // when it is > 'Z' (no carry leaves a byte: at most 0x7f + 0x3f). A byte
  // in 'A'..'Z' gets 0x20 (that top bit, shifted), which makes it lower
  // case; bytes with their own top bit set are left alone.
  static uint64_t FoldWord(uint64_t word) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    const uint64_t low7 = word & (0x7f * kOnes);
    const uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;
    const uint64_t above_z = low7 + (0x80 - 'Z' - 1) * kOnes;
    const uint64_t upper = at_least_a & ~above_z & ~word & (0x80 * kOnes);
    return word | (upper >> 2);
  }

  std::vector<Entry> entries_;
  std::string names_;
};

// The agent's commands: RL.CHECK, RL.ACQUIRE, RL.INFO, PING, ECHO, QUIT,
// HELLO, COMMAND, CONFIG and CLIENT.
const CommandTable& AgentCommandTable();

}  // namespace sluice
