// WebAsset: one file of the dashboard (web-ui/), compiled into the binary
// by cmake/EmbedWebUi.cmake, which generates WebAssets().
//
// Immutable static data; thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace sluice {

struct WebAsset {
  std::string_view path;          // "/index.html", "/js/app.js"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;          // the file's bytes
  std::string_view gzip_body;     // the same, gzip-compressed
  std::string_view etag;          // "\"<sha-256 prefix>\""
};

// Every file of web-ui/, sorted by path.
const std::vector<WebAsset>& WebAssets();

}  // namespace sluice
