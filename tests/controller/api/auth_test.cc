// Authenticator against a real PostgreSQL (SLUICE_TEST_DB).
#include "controller/api/auth.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>

#include "controller/store/token_secret.h"
#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

class AuthTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    tokens_ = std::make_unique<TokenStore>(db_.get());
    auth_ = std::make_unique<Authenticator>(tokens_.get());
  }
  int64_t Query(const std::string& sql) {
    pqxx::connection conn(test_db_->conninfo());
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }
  void Exec(const std::string& sql) {
    pqxx::connection conn(test_db_->conninfo());
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
  }
  // The token in "admin token: <token>\n", or "".
  static std::string PrintedToken(const std::string& out) {
    const std::string prefix = "admin token: ";
    if (out.rfind(prefix, 0) != 0 || out.back() != '\n') return "";
    return out.substr(prefix.size(), out.size() - prefix.size() - 1);
  }
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<Authenticator> auth_;
};

TEST(AuthHashTest, HashIsSha256Hex) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(HashToken("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthHashTest, GeneratedTokensAreLongRandomAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    StatusOr<std::string> token = GenerateToken();
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 43u);  // 32 bytes, base64url, no padding
    EXPECT_EQ(token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                       "klmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    seen.insert(*token);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST_F(AuthTest, FirstStartPrintsOneAdminTokenAndStoresOnlyItsHash) {
  std::ostringstream out;
  ASSERT_TRUE(auth_->Bootstrap("", out).ok());
  std::string token = PrintedToken(out.str());
  ASSERT_FALSE(token.empty()) << out.str();
  EXPECT_EQ(Query("SELECT count(*) FROM api_tokens"), 1);
  EXPECT_EQ(Query("SELECT count(*) FROM api_tokens WHERE token_sha256 = '" +
                  HashToken(token) + "' AND role = 'admin'"),
            1);
  EXPECT_EQ(Query("SELECT count(*) FROM api_tokens WHERE token_sha256 LIKE "
                  "'%" +
                  token + "%'"),
            0);

  StatusOr<Principal> principal = auth_->Authenticate("Bearer " + token);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->role, Role::kAdmin);
  EXPECT_EQ(principal->name, "bootstrap-admin");

  // A second start prints nothing and keeps the token valid.
  std::ostringstream again;
  Authenticator restarted(tokens_.get());
  ASSERT_TRUE(restarted.Bootstrap("", again).ok());
  EXPECT_EQ(again.str(), "");
  EXPECT_EQ(Query("SELECT count(*) FROM api_tokens"), 1);
  EXPECT_TRUE(restarted.Authenticate("Bearer " + token).ok());
}

TEST_F(AuthTest, EnvironmentTokenIsAnAdminTokenAndReplacesTheLastOne) {
  std::ostringstream out;
  ASSERT_TRUE(auth_->Bootstrap("first-secret", out).ok());
  EXPECT_EQ(out.str(), "");  // nothing generated, nothing printed
  StatusOr<Principal> principal = auth_->Authenticate("Bearer first-secret");
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->role, Role::kAdmin);

  Authenticator restarted(tokens_.get());
  ASSERT_TRUE(restarted.Bootstrap("second-secret", out).ok());
  EXPECT_TRUE(restarted.Authenticate("Bearer second-secret").ok());
  EXPECT_FALSE(restarted.Authenticate("Bearer first-secret").ok());
  // Started later without it, the stored env token still works and no new
  // token is generated.
  Authenticator plain(tokens_.get());
  ASSERT_TRUE(plain.Bootstrap("", out).ok());
  EXPECT_EQ(out.str(), "");
  EXPECT_TRUE(plain.Authenticate("Bearer second-secret").ok());
}

TEST_F(AuthTest, EnvironmentTokenEqualToAStoredOneMakesItAdmin) {
  std::ostringstream out;
  ASSERT_TRUE(auth_->Bootstrap("", out).ok());
  std::string printed = PrintedToken(out.str());
  ASSERT_FALSE(printed.empty());
  Authenticator restarted(tokens_.get());
  ASSERT_TRUE(restarted.Bootstrap(printed, out).ok());
  EXPECT_TRUE(restarted.Authenticate("Bearer " + printed).ok());
  EXPECT_EQ(Query("SELECT count(*) FROM api_tokens"), 1);
}

TEST_F(AuthTest, RefusesMissingMalformedUnknownAndRevokedTokens) {
  std::ostringstream out;
  ASSERT_TRUE(auth_->Bootstrap("the-secret", out).ok());
  EXPECT_TRUE(auth_->Authenticate("Bearer the-secret").ok());
  EXPECT_TRUE(auth_->Authenticate("bearer the-secret").ok());
  for (const char* header :
       {"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "the-secret",
        "Bearer the-secreT", "Bearer the-secret2", "Bearer x"}) {
    StatusOr<Principal> refused = auth_->Authenticate(header);
    EXPECT_FALSE(refused.ok()) << header;
    EXPECT_NE(refused.status().message().find("Authorization: Bearer"),
              std::string::npos)
        << refused.status().message();
  }
  EXPECT_FALSE(auth_->Authenticate("Bearer " + std::string(600, 'a')).ok());

  Exec("UPDATE api_tokens SET revoked_at = now()");
  EXPECT_TRUE(auth_->Authenticate("Bearer the-secret").ok());  // cached
  ASSERT_TRUE(auth_->Reload().ok());
  EXPECT_FALSE(auth_->Authenticate("Bearer the-secret").ok());
}

TEST_F(AuthTest, ForgetTakesEffectWithoutTheDatabase) {
  std::ostringstream out;
  ASSERT_TRUE(auth_->Bootstrap("the-secret", out).ok());
  StatusOr<Principal> principal = auth_->Authenticate("Bearer the-secret");
  ASSERT_TRUE(principal.ok());
  EXPECT_GT(principal->id, 0);
  auth_->Forget(principal->id);
  EXPECT_FALSE(auth_->Authenticate("Bearer the-secret").ok());
  // Forget() is meant for a revocation already committed; a reload started
  // afterwards trusts the database again (here the token was not revoked).
  ASSERT_TRUE(auth_->Reload().ok());
  EXPECT_TRUE(auth_->Authenticate("Bearer the-secret").ok());
}

TEST_F(AuthTest, NothingAuthenticatesBeforeTokensAreLoaded) {
  EXPECT_FALSE(auth_->Authenticate("Bearer anything").ok());
}

}  // namespace
}  // namespace sluice
