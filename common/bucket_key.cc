#include "common/bucket_key.h"

#include <cstring>

namespace sluice {
namespace {

void AppendLe(uint64_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

void PutLe(uint64_t value, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) {
    out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

uint64_t ReadLe(std::string_view bytes, size_t pos, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[pos + i]))
             << (8 * i);
  }
  return value;
}

void AppendValue(std::string_view value, std::string* out) {
  AppendLe(value.size(), 4, out);
  out->append(value.data(), value.size());
}

}  // namespace

void BuildBucketKey(const Rule& rule, const Descriptor& d, std::string* out) {
  // On every check's path: sized once, then written in place.
  static constexpr std::string_view kAbsent;
  constexpr size_t kMaxWildcards = 16;            // rule_json.h's kMaxMatchKeys
  const std::string_view* values[kMaxWildcards];  // set before each use
  size_t count = 0;
  size_t size = 8;
  for (const auto& [key, value] : rule.match) {
    if (value != kWildcard) continue;
    if (count == kMaxWildcards) {  // not a rule the index holds: the slow way
      out->clear();
      AppendLe(static_cast<uint64_t>(rule.id), 8, out);
      for (const auto& [k, val] : rule.match) {
        if (val != kWildcard) continue;
        const std::string_view* f = FindDescriptorValue(d, k);
        AppendValue(f != nullptr ? *f : kAbsent, out);
      }
      return;
    }
    const std::string_view* found = FindDescriptorValue(d, key);
    // Precondition: found. An absent key is written as an empty value so the
    // key stays well-formed.
    values[count] = found != nullptr ? found : &kAbsent;
    size += 4 + values[count]->size();
    ++count;
  }
  out->resize(size);
  char* p = out->data();
  PutLe(static_cast<uint64_t>(rule.id), 8, p);
  p += 8;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view v = *values[i];
    PutLe(v.size(), 4, p);
    p += 4;
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    p += v.size();
  }
}

std::string MakeBucketKey(int64_t rule_id,
                          const std::vector<std::string>& wildcard_values) {
  std::string out;
  MakeBucketKey(rule_id, wildcard_values, &out);
  return out;
}

void MakeBucketKey(int64_t rule_id,
                   const std::vector<std::string>& wildcard_values,
                   std::string* out) {
  out->clear();
  size_t size = 8;
  for (const auto& value : wildcard_values) size += 4 + value.size();
  out->reserve(size);
  AppendLe(static_cast<uint64_t>(rule_id), 8, out);
  for (const auto& value : wildcard_values) AppendValue(value, out);
}

bool ParseBucketKey(std::string_view key, int64_t* rule_id,
                    std::vector<std::string>* wildcard_values) {
  wildcard_values->clear();
  if (key.size() < 8) return false;
  *rule_id = static_cast<int64_t>(ReadLe(key, 0, 8));
  size_t pos = 8;
  while (pos < key.size()) {
    if (key.size() - pos < 4 || key.size() - pos - 4 < ReadLe(key, pos, 4)) {
      wildcard_values->clear();
      return false;
    }
    uint64_t length = ReadLe(key, pos, 4);
    pos += 4;
    wildcard_values->emplace_back(key.substr(pos, length));
    pos += length;
  }
  return true;
}

int64_t BucketKeyRuleId(std::string_view key) {
  if (key.size() < 8) return 0;
  return static_cast<int64_t>(ReadLe(key, 0, 8));
}

}  // namespace sluice
