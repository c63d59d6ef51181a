// CurveZMQ keys for the agent channel: key generation for the `keygen`
// subcommands (platform/keygen.h), Z85 validation, and key files.
//
// A key is 32 bytes, written as 40 characters of Z85 (ZeroMQ's base-85,
// rfc.zeromq.org/spec/32). A key file holds one keypair as
//
//   # any comment
//   public=<40 Z85 characters>
//   secret=<40 Z85 characters>
//
// (the output of `sluice-agent keygen` / `sluice-controller keygen`). The
// public line is optional; when present it must belong to the secret key.
// ReadCurveKeyFile() refuses a file that users other than its owner and
// group may read or write: it holds a secret. WriteCurveKeyFile() creates
// one with mode 0600 whatever the umask.
//
// Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

constexpr size_t kCurveKeyBytes = 32;
constexpr size_t kCurveKeyZ85Chars = 40;

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// 32 bytes from 40 Z85 characters. InvalidArgument naming `field` when the
// text has another length, a character outside the Z85 alphabet, or a group
// of five characters beyond 2^32 - 1 (not the encoding of any bytes).
StatusOr<std::string> DecodeCurveKey(std::string_view z85,
                                     const std::string& field);
// Whether `z85` is a valid key (see DecodeCurveKey).
Status ValidateCurveKey(std::string_view z85, const std::string& field);
// 40 Z85 characters from 32 bytes; "" when `binary` is not 32 bytes.
std::string EncodeCurveKey(std::string_view binary);

// A new random keypair (libzmq with libsodium). Internal if libzmq was built
// without CURVE.
StatusOr<CurveKeyPair> GenerateCurveKeyPair();
// The public key belonging to a Z85 secret key.
StatusOr<std::string> CurvePublicKeyOf(std::string_view secret_z85);

// The key file text for `pair`, with `comment` lines ("# ...") first.
std::string FormatCurveKeyFile(const CurveKeyPair& pair,
                               const std::string& comment);
// Parses key file text; `source` names it in messages. Derives the public
// key when the file has none.
StatusOr<CurveKeyPair> ParseCurveKeyFile(std::string_view text,
                                         const std::string& source);
// Reads and parses `path`. InvalidArgument when it cannot be read, is not a
// regular file, is accessible to other users (mode & 007), or does not
// parse.
StatusOr<CurveKeyPair> ReadCurveKeyFile(const std::string& path);

// Writes `text` (a key file) to a new file `path` with mode 0600 (owner
// read and write, set explicitly: the umask cannot widen or narrow it).
// Refuses, changing nothing, when `path` exists (also as a symbolic link):
// a key is never overwritten. Removes a partly written file on failure.
Status WriteCurveKeyFile(const std::string& path, const std::string& text);

}  // namespace sluice
