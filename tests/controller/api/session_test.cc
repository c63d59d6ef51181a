// Dashboard sessions end to end (a Controller in-process, a real HTTP
// client): sign-in sets the cookie of the contract, the cookie
// authenticates with its token's role, sign-out, revocation and the CSRF
// rules for changes made with a cookie.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/controller/api_fixture.h"
#include "tests/controller/http_test_client.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using web::http::methods;

class SessionTest : public testing::ApiTest {
 protected:
  // Signs in with `token`; the Set-Cookie header.
  std::string SignIn(const std::string& token) {
    HttpResult result =
        admin_->Send(methods::POST, "/api/v1/session",
                     json{{"token", token}}.dump(), false, kCsrf);
    EXPECT_EQ(result.status, 204) << result.body;
    return result.Header("Set-Cookie");
  }
  static std::string CookieValue(const std::string& set_cookie) {
    return set_cookie.substr(0, set_cookie.find(';'));
  }
  HttpResult WithCookie(const web::http::method& method,
                        const std::string& path, const std::string& cookie,
                        std::map<std::string, std::string> headers = {},
                        const std::string& body = "") {
    headers["Cookie"] = cookie;
    return admin_->Send(method, path, body, false, headers);
  }
  const std::map<std::string, std::string> kCsrf = {{"X-Sluice-CSRF", "1"}};
};

TEST_F(SessionTest, SignInSetsAStrictHttpOnlyCookieThatAuthenticates) {
  const std::string set_cookie = SignIn(kAdminToken);
  EXPECT_EQ(set_cookie.rfind("sluice_session=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(set_cookie.find("; Path=/"), std::string::npos);
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos);  // plain HTTP
  const std::string cookie = CookieValue(set_cookie);
  HttpResult who = WithCookie(methods::GET, "/api/v1/session", cookie);
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.json, (json{{"name", "SLUICE_ADMIN_TOKEN"}, {"role", "admin"}}))
      << who.body;
  EXPECT_EQ(WithCookie(methods::GET, "/api/v1/rules", cookie).status, 200);
}

TEST_F(SessionTest, AnUnknownTokenGetsNoSession) {
  HttpResult result =
      admin_->Send(methods::POST, "/api/v1/session",
                   json{{"token", "not-a-token"}}.dump(), false, kCsrf);
  EXPECT_EQ(result.status, 401) << result.body;
  EXPECT_EQ(result.ErrorPart("field"), "token");
  EXPECT_TRUE(result.Header("Set-Cookie").empty());
  HttpResult bad = admin_->Send(methods::POST, "/api/v1/session",
                                R"({"tok": "x"})", false, kCsrf);
  EXPECT_EQ(bad.status, 422) << bad.body;
}

TEST_F(SessionTest, TheCookieCarriesItsTokensRole) {
  const std::string viewer = NewToken("dash-viewer", "viewer");
  const std::string cookie = CookieValue(SignIn(viewer));
  HttpResult who = WithCookie(methods::GET, "/api/v1/session", cookie);
  EXPECT_EQ(who.json.value("role", ""), "viewer") << who.body;
  HttpResult create = WithCookie(methods::POST, "/api/v1/rules", cookie, kCsrf,
                                 testing::SampleRule().dump());
  EXPECT_EQ(create.status, 403) << create.body;
  EXPECT_EQ(create.ErrorCode(), "forbidden");
  EXPECT_EQ(WithCookie(methods::GET, "/api/v1/tokens", cookie).status, 403);
}

TEST_F(SessionTest, SignOutEndsTheSession) {
  const std::string cookie = CookieValue(SignIn(kAdminToken));
  HttpResult out = WithCookie(methods::DEL, "/api/v1/session", cookie, kCsrf);
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_NE(out.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  HttpResult after = WithCookie(methods::GET, "/api/v1/rules", cookie);
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_NE(after.ErrorPart("message").find("sign in again"),
            std::string::npos);
}

TEST_F(SessionTest, RevokingTheTokenEndsItsSessionsAtOnce) {
  HttpResult created = admin_->Post(
      "/api/v1/tokens", json{{"name", "dash-ed"}, {"role", "editor"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string cookie =
      CookieValue(SignIn(created.json["token"].get<std::string>()));
  ASSERT_EQ(WithCookie(methods::GET, "/api/v1/rules", cookie).status, 200);
  ASSERT_EQ(
      admin_->Delete("/api/v1/tokens/" + created.json["id"].dump()).status,
      204);
  EXPECT_EQ(WithCookie(methods::GET, "/api/v1/rules", cookie).status, 401);
}

TEST_F(SessionTest, ChangesWithACookieNeedTheCsrfHeaderAndTheOwnOrigin) {
  const std::string cookie = CookieValue(SignIn(kAdminToken));
  const std::string rule = testing::SampleRule().dump();
  // What a form on another site can send: the cookie, no custom header.
  HttpResult bare =
      WithCookie(methods::POST, "/api/v1/rules", cookie, {}, rule);
  EXPECT_EQ(bare.status, 403) << bare.body;
  EXPECT_EQ(bare.ErrorCode(), "csrf");
  HttpResult foreign = WithCookie(
      methods::POST, "/api/v1/rules", cookie,
      {{"X-Sluice-CSRF", "1"}, {"Origin", "http://evil.example"}}, rule);
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_EQ(foreign.ErrorPart("field"), "Origin");
  EXPECT_EQ(WithCookie(methods::DEL, "/api/v1/session", cookie).status, 403);
  // Nothing was created.
  EXPECT_EQ(admin_->Get("/api/v1/rules").json["rules"].size(), 0u);
  // The dashboard's own request passes.
  HttpResult own = WithCookie(
      methods::POST, "/api/v1/rules", cookie,
      {{"X-Sluice-CSRF", "1"}, {"Origin", "http://" + options_.http}}, rule);
  EXPECT_EQ(own.status, 201) << own.body;
  // Signing in from another site is refused too (login CSRF).
  HttpResult login = admin_->Send(methods::POST, "/api/v1/session",
                                  json{{"token", kAdminToken}}.dump(), false);
  EXPECT_EQ(login.status, 403) << login.body;
  // Bearer clients are unaffected.
  json second = testing::SampleRule();
  second["name"] = "second";
  EXPECT_EQ(admin_->Post("/api/v1/rules", second.dump()).status, 201);
}

TEST_F(SessionTest, AForgedCookieIsRefused) {
  HttpResult result = WithCookie(methods::GET, "/api/v1/rules",
                                 "sluice_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(result.status, 401) << result.body;
}

}  // namespace
}  // namespace sluice
