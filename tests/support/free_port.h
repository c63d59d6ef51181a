// Free TCP ports on 127.0.0.1 for servers under test that cannot bind port 0
// (cpprestsdk's listener). Racy by nature: the port is free when returned.
#pragma once

#include <cstdint>

namespace sluice::testing {

// A port that was free on 127.0.0.1 a moment ago.
uint16_t PickFreePort();

}  // namespace sluice::testing
