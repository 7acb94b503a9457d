#include "shared/mp/manager_auth.h"

#include <sodium.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace shoal::internal {
namespace {

constexpr char kEnvironment[] = "SHOAL_MANAGER_AUTHKEY";

// BLAKE2b-256 of `message`, keyed with `key` (16 to 64 bytes, or empty).
std::string hash(std::string_view message, std::string_view key) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size(), reinterpret_cast<const unsigned char*>(key.data()),
                     key.size());
  return {reinterpret_cast<const char*>(out), sizeof out};
}

std::string public_of(const std::string& secret) {
  unsigned char out[crypto_scalarmult_BYTES];
  crypto_scalarmult_base(out, reinterpret_cast<const unsigned char*>(secret.data()));
  return {reinterpret_cast<const char*>(out), sizeof out};
}

std::string environment_authkey() {
  const char* value = std::getenv(kEnvironment);
  return value == nullptr ? std::string() : std::string(value);
}

struct Remembered {
  std::mutex mu;
  std::unordered_map<std::string, std::string> by_endpoint;
};

Remembered& remembered() {
  static Remembered* r = new Remembered;  // never destroyed: used until exit
  return *r;
}

}  // namespace

ManagerKeys derive_manager_keys(std::string_view authkey) {
  if (sodium_init() < 0) throw std::runtime_error("shoal::Manager: libsodium cannot start");
  // One hash of the authkey (any length) keys a hash per role, so the two pairs are
  // unrelated to anyone who lacks the authkey.
  const std::string root = hash(authkey, {});
  ManagerKeys keys;
  keys.server_secret = hash("shoal-manager-v1 server", root);
  keys.client_secret = hash("shoal-manager-v1 client", root);
  keys.server_public = public_of(keys.server_secret);
  keys.client_public = public_of(keys.client_secret);
  return keys;
}

std::string manager_authkey(const ManagerOptions& options) {
  return options.authkey.empty() ? environment_authkey() : options.authkey;
}

void remember_manager_authkey(const std::string& endpoint, const std::string& authkey) {
  Remembered& r = remembered();
  std::lock_guard guard(r.mu);
  r.by_endpoint[endpoint] = authkey;
}

std::string manager_authkey_for(const std::string& endpoint) {
  Remembered& r = remembered();
  {
    std::lock_guard guard(r.mu);
    auto it = r.by_endpoint.find(endpoint);
    if (it != r.by_endpoint.end()) return it->second;
  }
  return environment_authkey();
}

}  // namespace shoal::internal
