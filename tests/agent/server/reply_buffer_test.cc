#include "agent/server/reply_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(ReplyBufferTest, RepliesSentAtOnce) {
  ReplyBuffer replies;
  EXPECT_FALSE(replies.has_pending());
  replies.pending()->append("+PONG\r\n");
  EXPECT_TRUE(replies.has_pending());
  EXPECT_EQ(replies.unsent_bytes(), 7u);
  replies.SentAll();
  EXPECT_FALSE(replies.has_pending());
  EXPECT_EQ(replies.unsent_bytes(), 0u);
  EXPECT_FALSE(replies.write_in_flight());
}

TEST(ReplyBufferTest, TheRestGoesByOneWriteWhileNewRepliesGather) {
  ReplyBuffer replies;
  replies.pending()->append("abcdef");
  // The socket took 2 bytes; the other 4 go by an asynchronous write.
  const std::string_view rest = replies.StartWrite(2);
  EXPECT_EQ(rest, "cdef");
  EXPECT_TRUE(replies.write_in_flight());
  EXPECT_FALSE(replies.has_pending());
  replies.pending()->append("gh");
  // The whole in-flight buffer still counts until the write completes.
  EXPECT_EQ(replies.unsent_bytes(), 8u);
  EXPECT_EQ(rest, "cdef");  // untouched by new replies
  replies.WriteDone();
  EXPECT_FALSE(replies.write_in_flight());
  EXPECT_EQ(replies.unsent_bytes(), 2u);
  EXPECT_EQ(*replies.pending(), "gh");
}

TEST(ReplyBufferTest, LargeBuffersAreGivenBackWhenTheyEmpty) {
  ReplyBuffer replies;
  replies.pending()->assign(ReplyBuffer::kKeepCapacity * 2, 'x');
  replies.SentAll();
  EXPECT_LE(replies.pending()->capacity(), ReplyBuffer::kKeepCapacity);
  replies.pending()->assign(100, 'y');
  const size_t small = replies.pending()->capacity();
  replies.SentAll();
  EXPECT_EQ(replies.pending()->capacity(), small);  // kept: no reallocation
}

}  // namespace
}  // namespace sluice
