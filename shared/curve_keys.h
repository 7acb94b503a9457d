#pragma once
// CURVE keys (ZeroMQ's encryption and authentication of the broker's worker link) as
// Z85 text of 40 characters, and the key files that hold them: one key per line,
// optionally followed by a comment; blank lines and lines starting with '#' ignored. Used by shoal-broker, shoal-worker and
// `shoal keygen`.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoal::internal {

struct CurveKeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// `key` (Z85) as ZeroMQ's CURVE socket options take it: with its terminating NUL, by
// which libzmq tells a Z85 key (41 bytes) from a binary one (32). Valid while `key` is.
inline std::string_view curve_key_option(const std::string& key) {
  return {key.c_str(), key.size() + 1};
}

// A fresh random key pair. kUnimplemented when libzmq was built without CURVE.
absl::StatusOr<CurveKeyPair> new_curve_key_pair();

// The pair whose secret key is `secret_key` (Z85). kInvalidArgument if it is not a key.
absl::StatusOr<CurveKeyPair> curve_key_pair_of(const std::string& secret_key);

// `text` as one Z85 key, surrounding whitespace ignored; kInvalidArgument naming
// `what` when it is not 40 characters of Z85.
absl::StatusOr<std::string> parse_curve_key(absl::string_view text, absl::string_view what);

// Every key in the key file `path`, in order; kNotFound if it cannot be read,
// kInvalidArgument naming the line of a malformed key.
absl::StatusOr<std::vector<std::string>> read_curve_keys(const std::string& path);

// The one key in the key file `path` (kInvalidArgument for none or several).
absl::StatusOr<std::string> read_curve_key(const std::string& path);

// The one key in the key file `value` if that names a file, else `value` itself if it is
// a key.
absl::StatusOr<std::string> curve_key_or_file(const std::string& value, absl::string_view what);

// The pair of the one secret key in the key file `path`.
absl::StatusOr<CurveKeyPair> read_curve_key_pair(const std::string& path);

// Writes `pair`: the secret key to `path` (created with mode 0600, never overwritten)
// and the public key to `path`.pub. kFailedPrecondition, with neither file written, if
// either exists; on any failure no file of the pair is left behind.
absl::Status write_curve_key_pair(const std::string& path, const CurveKeyPair& pair);

}  // namespace shoal::internal
