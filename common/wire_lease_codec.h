// A fast, allocation-light codec for the two high-volume wire messages,
// LeaseRequest and LeaseGrant (one item per bucket that needs a lease: tens
// of thousands per second under load). Part of the wire module
// (common/wire.h): EncodeWireMessage and DecodeWireMessage call it; nothing
// else should. The wire format is exactly the one common/wire.h describes.
//
// Encoding writes the same bytes the generic (nlohmann) encoder writes:
// keys sorted, no spaces, strings escaped like nlohmann's dump (ensure_ascii
// off), values that are not valid UTF-8 as {"hex": "..."}.
//
// Decoding is a fast path: it accepts only the common shape (the encoder's
// output, whitespace allowed, keys in any order) and returns false for
// anything else (escapes, non-ASCII or hex values, unknown or repeated
// fields, numbers out of range or not plain integers, any malformed JSON),
// after which the caller uses the generic decoder, which either accepts it
// (unknown fields, escapes, ...) or says exactly what is wrong. When it
// returns true, the message is the one the generic decoder would return.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/wire.h"

namespace sluice {
namespace wire_internal {

void AppendLeaseRequestJson(const LeaseRequest& m, std::string* out);
void AppendLeaseGrantJson(const LeaseGrant& m, std::string* out);

// Fast-path decoders (see the header comment): false means "use the
// generic decoder", never "invalid".
bool FastDecodeLeaseRequest(std::string_view bytes, LeaseRequest* out);
bool FastDecodeLeaseGrant(std::string_view bytes, LeaseGrant* out);

// The generic (nlohmann) codec of every message, defined in wire.cc; the
// public functions use it for everything the fast path does not handle.
// Exposed so that tests can hold the fast path to it.
std::string EncodeWireMessageGeneric(const WireMessage& message);
StatusOr<WireMessage> DecodeWireMessageGeneric(std::string_view bytes);

}  // namespace wire_internal
}  // namespace sluice
