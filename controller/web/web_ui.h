// The dashboard's files served from memory (web-ui/, compiled in by
// cmake/EmbedWebUi.cmake): "/" is /index.html. Every answer carries the
// security headers (SecurityHeaders()); an asset also carries its ETag
// ("Cache-Control: no-cache": the browser revalidates and gets 304 while
// the file is unchanged), and its gzip form when Accept-Encoding allows
// gzip ("Vary: Accept-Encoding").
//
// Pure functions over static data; thread-safe, never block, never throw.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/http/http_message.h"

namespace sluice {

// The answer to a GET or HEAD of a dashboard file, or nothing when the
// request is for something else (another method, or a path that is not a
// dashboard file).
std::optional<HttpResponse> ServeWebAsset(const HttpRequest& request);

// Content-Security-Policy (no inline script or style, nothing from another
// origin, no framing), X-Content-Type-Options, Referrer-Policy,
// X-Frame-Options, Cross-Origin-Opener-Policy.
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

// Whether an Accept-Encoding value admits gzip (a "gzip" or "*" coding
// without q=0).
bool AcceptsGzip(const std::string& accept_encoding);

}  // namespace sluice
