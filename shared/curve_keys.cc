#include "shared/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace shoal::internal {
namespace {

constexpr std::size_t kZ85KeyLength = 40;

absl::Status write_new_file(const std::string& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(errno)));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int error = errno;
  ok = close(fd) == 0 && ok;
  if (!ok) return absl::InternalError(absl::StrCat(path, ": ", std::strerror(error)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CurveKeyPair> new_curve_key_pair() {
  char public_key[kZ85KeyLength + 1], secret_key[kZ85KeyLength + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return absl::UnimplementedError(
        absl::StrCat("this libzmq cannot make CURVE keys: ", zmq_strerror(zmq_errno())));
  }
  return CurveKeyPair{public_key, secret_key};
}

absl::StatusOr<CurveKeyPair> curve_key_pair_of(const std::string& secret_key) {
  auto key = parse_curve_key(secret_key, "secret key");
  if (!key.ok()) return key.status();
  char public_key[kZ85KeyLength + 1];
  if (zmq_curve_public(public_key, key->c_str()) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a CURVE secret key: ", zmq_strerror(zmq_errno())));
  }
  return CurveKeyPair{public_key, *key};
}

absl::StatusOr<std::string> parse_curve_key(absl::string_view text, absl::string_view what) {
  std::string key(absl::StripAsciiWhitespace(text));
  std::uint8_t bytes[32];
  if (key.size() != kZ85KeyLength || zmq_z85_decode(bytes, key.c_str()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a CURVE key (40 characters of Z85, as `shoal keygen` writes)"));
  }
  return key;
}

absl::StatusOr<std::vector<std::string>> read_curve_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  std::vector<std::string> keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    // The key is the line's first word. No key begins with '#': as Z85's last digit it
    // would overflow the key's first 32-bit group.
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    auto key = parse_curve_key(text.substr(0, text.find_first_of(" \t")),
                               absl::StrCat(path, " line ", number));
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  return keys;
}

absl::StatusOr<std::string> read_curve_key(const std::string& path) {
  auto keys = read_curve_keys(path);
  if (!keys.ok()) return keys.status();
  if (keys->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds ", keys->size(), " keys, expected exactly one"));
  }
  return std::move(keys->front());
}

absl::StatusOr<std::string> curve_key_or_file(const std::string& value, absl::string_view what) {
  // A file first: a path of exactly 40 characters, all of them Z85 ('/', '.', '-',
  // letters and digits are), also reads as a key, which would be the wrong one.
  struct stat st {};
  if (stat(value.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    auto key = read_curve_key(value);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the key file ", value, " has no key (", key.status().message(),
                       ")"));
    }
    return key;
  }
  if (auto key = parse_curve_key(value, what); key.ok()) return key;
  auto key = read_curve_key(value);
  if (key.ok()) return key;
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is neither a CURVE key nor a key file (", key.status().message(), ")"));
}

absl::StatusOr<CurveKeyPair> read_curve_key_pair(const std::string& path) {
  auto key = read_curve_key(path);
  if (!key.ok()) return key.status();
  return curve_key_pair_of(*key);
}

absl::Status write_curve_key_pair(const std::string& path, const CurveKeyPair& pair) {
  // Both names must be free before anything is written, and a secret key whose public
  // half could not be written is removed again: a failure leaves nothing new behind.
  for (const std::string& name : {path, path + ".pub"}) {
    struct stat st {};
    if (lstat(name.c_str(), &st) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(name, ": ", std::strerror(EEXIST)));
    }
  }
  if (absl::Status s = write_new_file(path, pair.secret_key + "\n", 0600); !s.ok()) return s;
  absl::Status s = write_new_file(path + ".pub", pair.public_key + "\n", 0644);
  if (!s.ok()) unlink(path.c_str());  // created above (O_EXCL): ours to remove
  return s;
}

}  // namespace shoal::internal
