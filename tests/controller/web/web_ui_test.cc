// The dashboard's files as served from memory: paths, content types, the
// security headers, ETag revalidation and gzip.
#include "controller/web/web_ui.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "controller/web/web_assets.h"

namespace sluice {
namespace {

HttpRequest Get(const std::string& path) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  return request;
}

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(WebUiTest, EveryFileHasItsContentTypeAndTheSecurityHeaders) {
  const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"}};
  ASSERT_GT(WebAssets().size(), 5u);
  for (const WebAsset& asset : WebAssets()) {
    std::string path(asset.path);
    std::optional<HttpResponse> response = ServeWebAsset(Get(path));
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_EQ(response->status, 200);
    const std::string ext = path.substr(path.rfind('.'));
    if (types.count(ext) > 0) {
      EXPECT_EQ(response->content_type, types.at(ext)) << path;
    }
    EXPECT_EQ(response->body, asset.body);
    EXPECT_NE(
        Header(*response, "Content-Security-Policy").find("script-src 'self';"),
        std::string::npos);
    EXPECT_EQ(Header(*response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(*response, "X-Frame-Options"), "DENY");
    EXPECT_EQ(Header(*response, "ETag"), asset.etag);
  }
}

TEST(WebUiTest, RootIsTheIndexAndOtherPathsAreNotAssets) {
  std::optional<HttpResponse> root = ServeWebAsset(Get("/"));
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->body, ServeWebAsset(Get("/index.html"))->body);
  EXPECT_NE(root->body.find("/js/app.js"), std::string::npos);
  // No inline script: every <script> has a src.
  EXPECT_EQ(root->body.find("<script>"), std::string::npos);
  EXPECT_FALSE(ServeWebAsset(Get("/api/v1/rules")).has_value());
  EXPECT_FALSE(ServeWebAsset(Get("/nope.js")).has_value());
  EXPECT_FALSE(ServeWebAsset(Get("/../index.html")).has_value());
  HttpRequest post = Get("/index.html");
  post.method = "POST";
  EXPECT_FALSE(ServeWebAsset(post).has_value());
  HttpRequest head = Get("/index.html");
  head.method = "HEAD";
  EXPECT_TRUE(ServeWebAsset(head).has_value());
}

TEST(WebUiTest, AMatchingETagIs304) {
  HttpResponse first = *ServeWebAsset(Get("/js/app.js"));
  const std::string etag = Header(first, "ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(Header(first, "Cache-Control"), "no-cache");
  HttpRequest again = Get("/js/app.js");
  again.if_none_match = "\"other\", " + etag;
  HttpResponse second = *ServeWebAsset(again);
  EXPECT_EQ(second.status, 304);
  EXPECT_TRUE(second.body.empty());
  EXPECT_EQ(Header(second, "ETag"), etag);
  again.if_none_match = "\"other\"";
  EXPECT_EQ(ServeWebAsset(again)->status, 200);
}

TEST(WebUiTest, GzipWhenAccepted) {
  HttpRequest request = Get("/js/app.js");
  request.accept_encoding = "br, gzip;q=0.8";
  HttpResponse zipped = *ServeWebAsset(request);
  EXPECT_EQ(Header(zipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(zipped, "Vary"), "Accept-Encoding");
  ASSERT_GE(zipped.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[1]), 0x8b);
  request.accept_encoding = "";
  HttpResponse plain = *ServeWebAsset(request);
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  EXPECT_LT(zipped.body.size(), plain.body.size());
}

TEST(WebUiTest, AcceptsGzip) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("br, deflate"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("xgzip"));
}

}  // namespace
}  // namespace sluice
