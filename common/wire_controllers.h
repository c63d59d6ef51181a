// The JSON form of the Controllers message of common/wire.h (several
// controllers, docs/high-availability.md). Internal to common/ (wire.cc
// calls it).
//
//   {"type": "controllers", "version": n, "self_id": "...",
//    "members": [{"id": "...", "endpoint": "tcp://..."}, ...]}
//
// The decoder refuses a set that fails ValidateControllerSet (members
// unsorted, ids repeated, empty fields), saying which member and why.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/wire.h"

namespace sluice::wire_internal {

nlohmann::json EncodeControllers(const Controllers& message);
StatusOr<WireMessage> DecodeControllers(const nlohmann::json& object);

}  // namespace sluice::wire_internal
