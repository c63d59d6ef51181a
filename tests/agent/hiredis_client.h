// Small owning wrappers over hiredis, the real Redis client the agent tests
// drive the server with: connections and replies freed by unique_ptr, and
// argv-style commands (arguments may hold any bytes).
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace sluice::testing {

struct RedisFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Redis = std::unique_ptr<redisContext, RedisFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& args) {
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(argv.size()); }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
};

// Sends one command and waits for its reply (null on a broken connection).
inline Reply Command(redisContext* c, const std::vector<std::string>& args) {
  ArgvView v(args);
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, v.argc(), v.argv.data(), v.lens.data())));
}

// Queues one command for pipelining (sent by FlushPipeline or GetReply).
inline void Append(redisContext* c, const std::vector<std::string>& args) {
  ArgvView v(args);
  ASSERT_EQ(redisAppendCommandArgv(c, v.argc(), v.argv.data(), v.lens.data()),
            REDIS_OK);
}

// The next reply of a pipeline (null on a broken connection).
inline Reply GetReply(redisContext* c) {
  void* reply = nullptr;
  if (redisGetReply(c, &reply) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(reply));
}

// Sends everything appended so far without waiting for replies.
inline void FlushPipeline(redisContext* c) {
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(c, &done), REDIS_OK);
}

// The integer elements of an array reply (empty for anything else).
inline std::vector<long long> Integers(const redisReply* r) {
  std::vector<long long> out;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < r->elements; ++i) {
    if (r->element[i]->type == REDIS_REPLY_INTEGER) {
      out.push_back(r->element[i]->integer);
    }
  }
  return out;
}

}  // namespace sluice::testing
