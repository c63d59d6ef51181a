// Minimal structured logging to stderr: one line per event,
// "2026-11-27T20:44:13.123Z INFO agent: message".
//
// Thread-safe (each line is written with a single write()).
#pragma once

#include <string_view>

namespace sluice {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view component, std::string_view message);

inline void LogInfo(std::string_view c, std::string_view m) {
  Log(LogLevel::kInfo, c, m);
}
inline void LogWarn(std::string_view c, std::string_view m) {
  Log(LogLevel::kWarn, c, m);
}
inline void LogError(std::string_view c, std::string_view m) {
  Log(LogLevel::kError, c, m);
}

}  // namespace sluice
