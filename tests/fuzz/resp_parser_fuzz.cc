// libFuzzer target for agent/resp/resp_parser.h: arbitrary bytes, parsed whole
// and in arbitrary chunks (split points drawn from a hash of the input),
// under the default limits and under tight ones. Every chunk is copied into
// a heap block of exactly its size, so AddressSanitizer catches any read
// past the bytes the parser was given, and the block moves between calls,
// as the parser's contract allows.
//
// Checked on every call (the contract in agent/resp/resp_parser.h):
//   1. consumed() <= the size of the input given.
//   2. kRequest: at least one argument, at most max_args, their bytes sum to
//      at most max_request_bytes, and every view lies inside the consumed
//      prefix of the input.
//   3. kError: error() is one non-empty line starting "Protocol error: ";
//      the error is sticky (Next() keeps returning kError, consuming
//      nothing, whatever it is given) until Reset(), after which the parser
//      parses a fresh "PING" again.
//   4. Splitting does not matter: the requests, the error (with its text)
//      and the bytes left over are the same whether the input arrives whole
//      or in chunks.
// A failed check prints what broke and aborts: libFuzzer saves the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/resp/resp_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace sluice {
namespace {

// What a connection sees from one stream.
struct Parsed {
  std::vector<std::vector<std::string>> requests;
  bool error = false;
  std::string error_text;
  size_t leftover = 0;  // bytes still buffered at the end
};

// Deterministic chunk sizes for one input (xorshift64 over an FNV-1a hash),
// mixing single bytes, small chunks and big ones.
class Splitter {
 public:
  Splitter(const uint8_t* data, size_t size) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    state_ = h | 1;
  }
  size_t Next(size_t remaining) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    static constexpr size_t kMax[] = {1, 2, 5, 17, 64, 512};
    const size_t max = kMax[state_ % 6];
    const size_t n = 1 + (state_ >> 8) % max;
    return n < remaining ? n : remaining;
  }

 private:
  uint64_t state_;
};

bool Inside(std::string_view part, std::string_view whole, size_t prefix) {
  const auto begin = reinterpret_cast<uintptr_t>(whole.data());
  const auto p = reinterpret_cast<uintptr_t>(part.data());
  return p >= begin && p + part.size() <= begin + prefix;
}

void CheckError(RespParser* parser, std::string_view input) {
  const std::string_view error = parser->error();
  FUZZ_CHECK(error.rfind("Protocol error: ", 0) == 0);
  FUZZ_CHECK(error.size() > std::strlen("Protocol error: "));
  FUZZ_CHECK(error.find_first_of("\r\n") == std::string_view::npos);
  FUZZ_CHECK(parser->consumed() == 0);
  // Sticky: whatever comes next, until Reset().
  const std::string text(error);
  for (std::string_view more :
       {input, std::string_view("PING\r\n"), std::string_view()}) {
    FUZZ_CHECK(parser->Next(more) == RespParser::Result::kError);
    FUZZ_CHECK(parser->consumed() == 0);
    FUZZ_CHECK(parser->error() == text);
  }
}

// Parses data[0, size) fed in chunks (whole when `splitter` is null).
Parsed Feed(const uint8_t* data, size_t size, const RespParserOptions& options,
            Splitter* splitter) {
  RespParser parser(options);
  Parsed parsed;
  std::string pending;  // bytes not yet consumed
  size_t fed = 0;
  do {
    const size_t n =
        splitter != nullptr ? splitter->Next(size - fed) : size - fed;
    pending.append(reinterpret_cast<const char*>(data) + fed, n);
    fed += n;
    // An exact-size copy: reading past its end is a heap overflow.
    std::unique_ptr<char[]> block(new char[pending.size()]);
    if (!pending.empty()) {
      std::memcpy(block.get(), pending.data(), pending.size());
    }
    size_t offset = 0;
    for (;;) {
      const std::string_view input(block.get() + offset,
                                   pending.size() - offset);
      const RespParser::Result r = parser.Next(input);
      FUZZ_CHECK(parser.consumed() <= input.size());
      if (r == RespParser::Result::kError) {
        CheckError(&parser, input);
        parsed.error = true;
        parsed.error_text = std::string(parser.error());
        parsed.leftover = input.size();
        // After Reset() the parser starts afresh.
        parser.Reset();
        FUZZ_CHECK(parser.Next("PING\r\n") == RespParser::Result::kRequest);
        FUZZ_CHECK(parser.args().size() == 1 && parser.args()[0] == "PING");
        FUZZ_CHECK(parser.consumed() == 6);
        return parsed;
      }
      offset += parser.consumed();
      if (r == RespParser::Result::kIncomplete) break;
      const std::vector<std::string_view>& args = parser.args();
      FUZZ_CHECK(!args.empty());
      FUZZ_CHECK(args.size() <= parser.options().max_args);
      size_t bytes = 0;
      std::vector<std::string> request;
      for (std::string_view arg : args) {
        FUZZ_CHECK(Inside(arg, input, parser.consumed()));
        bytes += arg.size();
        request.emplace_back(arg);
      }
      FUZZ_CHECK(bytes <= parser.options().max_request_bytes);
      parsed.requests.push_back(std::move(request));
    }
    pending.erase(0, offset);
  } while (fed < size);
  parsed.leftover = pending.size();
  return parsed;
}

void CheckSame(const Parsed& whole, const Parsed& chunked) {
  FUZZ_CHECK(whole.requests == chunked.requests);
  FUZZ_CHECK(whole.error == chunked.error);
  FUZZ_CHECK(whole.error_text == chunked.error_text);
  if (!whole.error) FUZZ_CHECK(whole.leftover == chunked.leftover);
}

}  // namespace
}  // namespace sluice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::Feed;
  sluice::RespParserOptions tight;
  tight.max_request_bytes = 64;
  tight.max_args = 4;
  for (const sluice::RespParserOptions& options :
       {sluice::RespParserOptions{}, tight}) {
    const sluice::Parsed whole = Feed(data, size, options, nullptr);
    sluice::Splitter splitter(data, size);
    const sluice::Parsed chunked = Feed(data, size, options, &splitter);
    sluice::CheckSame(whole, chunked);
  }
  return 0;
}
