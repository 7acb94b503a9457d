#pragma once
// A Manager's authkey (ManagerOptions::authkey, or the environment's
// SHOAL_MANAGER_AUTHKEY) and the ZeroMQ CURVE keys derived from it. A server with an
// authkey is a CURVE server with the server pair and admits only the client pair's
// public key, so a client gets in by knowing the authkey, and the link is encrypted.
// Both pairs are hashes of the authkey (BLAKE2b, libsodium), so a short or guessable
// authkey is as weak as a short password: use a long random one.

#include <string>
#include <string_view>

#include "shoal/manager.hpp"

namespace shoal::internal {

// Binary CURVE keys, 32 bytes each.
struct ManagerKeys {
  std::string server_public, server_secret;
  std::string client_public, client_secret;
};

// The keys of `authkey` (not empty); the same authkey gives the same keys everywhere.
ManagerKeys derive_manager_keys(std::string_view authkey);

// The authkey a Manager made with `options` uses: options.authkey, else
// SHOAL_MANAGER_AUTHKEY, else "" (no authentication, no encryption).
std::string manager_authkey(const ManagerOptions& options);

// Remembers that `endpoint` is reached with `authkey`, for this process and the children
// it forks afterwards (proxies carry only the endpoint). Thread-safe.
void remember_manager_authkey(const std::string& endpoint, const std::string& authkey);

// The authkey for `endpoint`: the one remembered for it, else SHOAL_MANAGER_AUTHKEY,
// else "". Thread-safe.
std::string manager_authkey_for(const std::string& endpoint);

}  // namespace shoal::internal
