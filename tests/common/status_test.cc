// common/status.h: errors as values, and the asserts StatusOr promises.
#include "common/status.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

Status Fails() { return Status::NotFound("no rule 7; list them with GET"); }
StatusOr<int> Seven() { return 7; }
StatusOr<int> NoSeven() { return Fails(); }

TEST(StatusTest, OkIsFreeAndErrorsCarryCodeMessageField) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status st = Status::InvalidArgument("limit must be at least 1", "limit");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.field(), "limit");
  EXPECT_EQ(st.ToString(),
            "INVALID_ARGUMENT: limit must be at least 1 (field limit)");
}

TEST(StatusTest, StatusOrHoldsAValueOrAnError) {
  StatusOr<int> seven = Seven();
  ASSERT_TRUE(seven.ok());
  EXPECT_TRUE(seven.status().ok());
  EXPECT_EQ(*seven, 7);
  EXPECT_EQ(seven.value(), 7);
  StatusOr<int> none = NoSeven();
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  StatusOr<std::string> moved = std::string("abc");
  EXPECT_EQ(std::move(moved).value(), "abc");
}

TEST(StatusTest, IgnoreErrorDropsAResultOnPurpose) {
  // Compiles without a warning although both are [[nodiscard]].
  Fails().IgnoreError();
  NoSeven().IgnoreError();
}

#ifndef NDEBUG
TEST(StatusDeathTest, ValueOfAFailedStatusOrAsserts) {
  StatusOr<int> none = NoSeven();
  EXPECT_DEATH((void)none.value(), "value\\(\\) of a failed StatusOr");
  EXPECT_DEATH((void)*none, "value\\(\\) of a failed StatusOr");
  EXPECT_DEATH((void)std::move(none).value(), "value\\(\\) of a failed");
}

TEST(StatusDeathTest, StatusOrFromOkAsserts) {
  EXPECT_DEATH(StatusOr<int>(Status::Ok()).IgnoreError(),
               "StatusOr needs a value or an error, not OK");
}
#else
TEST(StatusTest, StatusOrFromOkBecomesInternal) {
  StatusOr<int> neither = Status::Ok();
  EXPECT_FALSE(neither.ok());
  EXPECT_EQ(neither.status().code(), Status::Code::kInternal);
  EXPECT_NE(neither.status().message().find("OK Status without a value"),
            std::string::npos);
}
#endif

}  // namespace
}  // namespace sluice
