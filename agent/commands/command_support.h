// Helpers the command handlers share: reading arguments (case-insensitive
// words, bounded integers) and writing the errors that name what was
// expected.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// ASCII case-insensitive equality, as Redis compares command and option
// names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Decimal digits only (no sign, no spaces) with a value <= max; false
// (and *out untouched) otherwise.
bool ParseNonNegative(std::string_view text, int64_t max, int64_t* out);

// A printable, bounded, single-quoted copy of client bytes for an error
// message: bytes outside printable ASCII become '?', and more than 64 are
// cut with "...".
std::string Quoted(std::string_view bytes);

// "-ERR wrong number of arguments for '<command in lower case>' command:
// expected <usage>".
void AppendArityError(std::string* out, std::string_view command,
                      std::string_view usage);

}  // namespace sluice
