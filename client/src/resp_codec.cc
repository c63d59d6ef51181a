#include "resp_codec.h"

#include <charconv>

namespace sluice::client::internal {
namespace {

void AppendBulk(std::string_view text, std::string* out) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof(digits), text.size()).ptr;
  out->push_back('$');
  out->append(digits, end);
  out->append("\r\n", 2);
  out->append(text.data(), text.size());
  out->append("\r\n", 2);
}

// Reads "<integer>\r\n" at data[*at], moving *at past it.
ParseResult ReadInteger(std::string_view data, size_t* at, int64_t* value,
                        std::string* problem) {
  size_t end = data.find('\r', *at);
  if (end == std::string_view::npos) {
    // 20 digits and a sign are the most an int64 has.
    if (data.size() - *at > 21) {
      *problem = "an integer longer than 21 characters";
      return ParseResult::kMalformed;
    }
    return ParseResult::kNeedMore;
  }
  if (end + 1 >= data.size()) return ParseResult::kNeedMore;
  if (data[end + 1] != '\n') {
    *problem = "a line ending in \\r without \\n";
    return ParseResult::kMalformed;
  }
  const char* first = data.data() + *at;
  const char* last = data.data() + end;
  auto [ptr, ec] = std::from_chars(first, last, *value);
  if (ec != std::errc() || ptr != last || first == last) {
    *problem = "'" + std::string(first, last) + "' where an integer belongs";
    return ParseResult::kMalformed;
  }
  *at = end + 2;
  return ParseResult::kReply;
}

ParseResult ParseError(std::string_view data, CheckReply* reply,
                       size_t* consumed, std::string* problem) {
  size_t end = data.find("\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > kMaxErrorLine) {
      *problem = "an error line longer than " + std::to_string(kMaxErrorLine);
      return ParseResult::kMalformed;
    }
    return ParseResult::kNeedMore;
  }
  reply->is_error = true;
  reply->error = data.substr(1, end - 1);
  *consumed = end + 2;
  return ParseResult::kReply;
}

}  // namespace

void AppendCheck(std::string_view domain, int64_t cost, const Entry* entries,
                 size_t count, std::string* out) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof(digits), 3 + 2 * count).ptr;
  out->push_back('*');
  out->append(digits, end);
  out->append("\r\n$8\r\nRL.CHECK\r\n", 16);
  AppendBulk(domain, out);
  end = std::to_chars(digits, digits + sizeof(digits), cost).ptr;
  AppendBulk(std::string_view(digits, end - digits), out);
  for (size_t i = 0; i < count; ++i) {
    AppendBulk(entries[i].key, out);
    AppendBulk(entries[i].value, out);
  }
}

ParseResult ParseCheckReply(std::string_view data, CheckReply* reply,
                            size_t* consumed, std::string* problem) {
  if (data.empty()) return ParseResult::kNeedMore;
  if (data[0] == '-') return ParseError(data, reply, consumed, problem);
  if (data[0] != '*') {
    *problem = std::string("a reply starting with '") + data[0] +
               "' where RL.CHECK answers an array (*) or an error (-)";
    return ParseResult::kMalformed;
  }
  size_t at = 1;
  int64_t length = 0;
  ParseResult result = ReadInteger(data, &at, &length, problem);
  if (result != ParseResult::kReply) return result;
  if (length != 5) {
    *problem = "an array of " + std::to_string(length) +
               " elements where RL.CHECK answers 5 integers";
    return ParseResult::kMalformed;
  }
  for (int i = 0; i < 5; ++i) {
    if (at >= data.size()) return ParseResult::kNeedMore;
    if (data[at] != ':') {
      *problem = "element " + std::to_string(i) + " starts with '" + data[at] +
                 "' where an integer (:) belongs";
      return ParseResult::kMalformed;
    }
    ++at;
    result = ReadInteger(data, &at, &reply->values[i], problem);
    if (result != ParseResult::kReply) return result;
  }
  reply->is_error = false;
  *consumed = at;
  return ParseResult::kReply;
}

}  // namespace sluice::client::internal
