// Descriptor: the key/value pairs an application sends with a check
// ("route=/search client_id=42"), as views into the caller's buffer.
//
// The views must outlive every use; nothing here copies them.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

using DescriptorEntry = std::pair<std::string_view, std::string_view>;
// In the order the application sent them. A repeated key: the first wins.
using Descriptor = std::vector<DescriptorEntry>;

// The value of `key` in `d`, or nullptr when absent. Linear: descriptors
// are a handful of entries.
inline const std::string_view* FindDescriptorValue(const Descriptor& d,
                                                   std::string_view key) {
  for (const auto& entry : d) {
    if (entry.first == key) return &entry.second;
  }
  return nullptr;
}

}  // namespace sluice
