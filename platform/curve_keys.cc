#include "platform/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace sluice {
namespace {

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&"
    "<>()[]{}@%$#";
// A key file is two lines; anything much larger is not one.
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

// The value of each Z85 character, -1 for characters outside the alphabet.
const std::array<int, 256>& Z85Values() {
  static const std::array<int, 256> values = [] {
    std::array<int, 256> v;
    v.fill(-1);
    for (int i = 0; i < 85; ++i) {
      v[static_cast<unsigned char>(kZ85Alphabet[i])] = i;
    }
    return v;
  }();
  return values;
}

std::string_view Trim(std::string_view text) {
  const char* kSpace = " \t\r\n";
  size_t start = text.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(start, end - start + 1);
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

StatusOr<std::string> DecodeCurveKey(std::string_view z85,
                                     const std::string& field) {
  const std::string example =
      "; expected the 40 Z85 characters of a CurveZMQ key, as printed by "
      "`sluice-agent keygen`";
  if (z85.size() != kCurveKeyZ85Chars) {
    return Status::InvalidArgument(
        field + " has " + std::to_string(z85.size()) + " characters" + example,
        field);
  }
  const std::array<int, 256>& values = Z85Values();
  std::string out;
  out.reserve(kCurveKeyBytes);
  for (size_t group = 0; group < z85.size(); group += 5) {
    uint64_t value = 0;
    for (size_t i = group; i < group + 5; ++i) {
      const int digit = values[static_cast<unsigned char>(z85[i])];
      if (digit < 0) {
        return Status::InvalidArgument(
            field + " has a character outside the Z85 alphabet at position " +
                std::to_string(i + 1) + example,
            field);
      }
      value = value * 85 + static_cast<uint64_t>(digit);
    }
    if (value > UINT32_MAX) {
      return Status::InvalidArgument(
          field + " is not a Z85 encoding: characters " +
              std::to_string(group + 1) + "-" + std::to_string(group + 5) +
              " stand for more than 32 bits" + example,
          field);
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
  }
  return out;
}

Status ValidateCurveKey(std::string_view z85, const std::string& field) {
  StatusOr<std::string> decoded = DecodeCurveKey(z85, field);
  return decoded.ok() ? Status::Ok() : decoded.status();
}

std::string EncodeCurveKey(std::string_view binary) {
  if (binary.size() != kCurveKeyBytes) return "";
  std::string out;
  out.reserve(kCurveKeyZ85Chars);
  for (size_t group = 0; group < binary.size(); group += 4) {
    uint32_t value = 0;
    for (size_t i = group; i < group + 4; ++i) {
      value = (value << 8) | static_cast<unsigned char>(binary[i]);
    }
    char chars[5];
    for (int i = 4; i >= 0; --i) {
      chars[i] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(chars, 5);
  }
  return out;
}

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  char public_key[kCurveKeyZ85Chars + 1] = {};
  char secret_key[kCurveKeyZ85Chars + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Status::Internal(
        std::string("cannot generate a CurveZMQ keypair: ") +
        zmq_strerror(zmq_errno()) +
        "; libzmq must be built with CURVE support (libsodium)");
  }
  return CurveKeyPair{public_key, secret_key};
}

StatusOr<std::string> CurvePublicKeyOf(std::string_view secret_z85) {
  Status valid = ValidateCurveKey(secret_z85, "secret key");
  if (!valid.ok()) return valid;
  const std::string secret(secret_z85);
  char public_key[kCurveKeyZ85Chars + 1] = {};
  if (zmq_curve_public(public_key, secret.c_str()) != 0) {
    return Status::Internal(
        std::string("cannot derive the CurveZMQ public key: ") +
        zmq_strerror(zmq_errno()) +
        "; libzmq must be built with CURVE support (libsodium)");
  }
  return std::string(public_key);
}

std::string FormatCurveKeyFile(const CurveKeyPair& pair,
                               const std::string& comment) {
  std::string out;
  size_t start = 0;
  while (start < comment.size()) {
    size_t end = comment.find('\n', start);
    if (end == std::string::npos) end = comment.size();
    out += "# " + comment.substr(start, end - start) + "\n";
    start = end + 1;
  }
  out += "public=" + pair.public_key + "\n";
  out += "secret=" + pair.secret_key + "\n";
  return out;
}

StatusOr<CurveKeyPair> ParseCurveKeyFile(std::string_view text,
                                         const std::string& source) {
  const std::string form =
      "; a key file has the lines public=<Z85> and secret=<Z85>, as printed "
      "by `sluice-agent keygen`";
  CurveKeyPair pair;
  size_t start = 0;
  int line_number = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string where = source + " line " + std::to_string(line_number);
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where + " is not name=value" + form);
    }
    const std::string_view name = Trim(line.substr(0, eq));
    const std::string_view value = Trim(line.substr(eq + 1));
    std::string* slot = nullptr;
    if (name == "public") {
      slot = &pair.public_key;
    } else if (name == "secret") {
      slot = &pair.secret_key;
    } else {
      // Not echoed: a mangled line may hold part of the secret.
      return Status::InvalidArgument(
          where + " is neither public=... nor secret=..." + form);
    }
    if (!slot->empty()) {
      return Status::InvalidArgument(where + " repeats '" + std::string(name) +
                                     "'" + form);
    }
    Status valid =
        ValidateCurveKey(value, where + " (" + std::string(name) + " key)");
    if (!valid.ok()) return Status::InvalidArgument(valid.message());
    *slot = std::string(value);
  }
  if (pair.secret_key.empty()) {
    return Status::InvalidArgument(source + " has no secret=<Z85> line" + form);
  }
  StatusOr<std::string> derived = CurvePublicKeyOf(pair.secret_key);
  if (!derived.ok()) return derived.status();
  if (pair.public_key.empty()) {
    pair.public_key = *derived;
  } else if (pair.public_key != *derived) {
    return Status::InvalidArgument(
        source +
        ": the public key does not belong to the secret key (it "
        "should be " +
        *derived + "); keep both lines of one `keygen` output together");
  }
  return pair;
}

StatusOr<CurveKeyPair> ReadCurveKeyFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::InvalidArgument(
        "cannot open the CurveZMQ key file " + path + ": " +
        std::strerror(errno) +
        "; expected a file made by `sluice-agent keygen > FILE` (mode 0600)");
  }
  struct stat info;
  std::string text;
  Status status = Status::Ok();
  if (fstat(fd, &info) != 0) {
    status = Status::InvalidArgument("cannot stat the CurveZMQ key file " +
                                     path + ": " + std::strerror(errno));
  } else if (!S_ISREG(info.st_mode)) {
    status = Status::InvalidArgument("the CurveZMQ key file " + path +
                                     " is not a regular file; expected a file "
                                     "made by `sluice-agent keygen > FILE`");
  } else if ((info.st_mode & 0007) != 0) {
    status = Status::InvalidArgument(
        "the CurveZMQ key file " + path +
        " is accessible to every user (mode " + Octal(info.st_mode) +
        "), and it holds a secret key: make it private with `chmod 600 " +
        path + "` (or 640 for a group) and start again");
  } else if (static_cast<size_t>(info.st_size) > kMaxKeyFileBytes) {
    status = Status::InvalidArgument(
        "the CurveZMQ key file " + path + " has " +
        std::to_string(info.st_size) +
        " bytes; a key file is two lines (public=..., secret=...)");
  } else {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = Status::InvalidArgument("cannot read the CurveZMQ key file " +
                                         path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxKeyFileBytes) {
        status = Status::InvalidArgument(
            "the CurveZMQ key file " + path +
            " is too large; a key file is two lines (public=..., secret=...)");
        break;
      }
    }
  }
  close(fd);
  if (!status.ok()) return status;
  return ParseCurveKeyFile(text, "the CurveZMQ key file " + path);
}

Status WriteCurveKeyFile(const std::string& path, const std::string& text) {
  // O_EXCL also refuses a symbolic link, dangling or not.
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) {
      return Status::AlreadyExists(
          "the key file " + path +
          " exists already; keygen never overwrites a key: remove it first "
          "or give another --out");
    }
    return Status::InvalidArgument("cannot create the key file " + path + ": " +
                                   std::strerror(error) +
                                   "; give --out a path in a directory you "
                                   "can write");
  }
  Status status = Status::Ok();
  if (fchmod(fd, 0600) != 0) {
    status = Status::Internal("cannot make the key file " + path +
                              " mode 0600: " + std::strerror(errno));
  }
  size_t written = 0;
  while (status.ok() && written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Status::Internal("cannot write the key file " + path + ": " +
                                std::strerror(errno));
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (status.ok() && fsync(fd) != 0) {
    status = Status::Internal("cannot write the key file " + path + ": " +
                              std::strerror(errno));
  }
  if (close(fd) != 0 && status.ok()) {
    status = Status::Internal("cannot write the key file " + path + ": " +
                              std::strerror(errno));
  }
  if (!status.ok()) unlink(path.c_str());
  return status;
}

}  // namespace sluice
