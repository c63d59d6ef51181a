// Free TCP ports on 127.0.0.1 for servers under test whose port must be
// known before they start (a daemon given --http HOST:PORT). Racy by
// nature: the port is free when returned.
#pragma once

#include <cstdint>

namespace sluice::testing {

// A port that was free on 127.0.0.1 a moment ago.
uint16_t PickFreePort();

}  // namespace sluice::testing
