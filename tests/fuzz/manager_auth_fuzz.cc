// A Manager's authentication (shared/mp/manager_auth.h): the keys derived from arbitrary
// authkeys, and the server's admission of CURVE handshakes (a ZAP request, answered by
// shared/zap_handler.h with the server's rule: admit the client key of its authkey) with
// arbitrary request frames, sent over an in-process socket pair. Properties:
// - an authkey always gives the same four 32-byte keys, each public key that of its secret,
//   and two different authkeys give different keys;
// - a ZAP request is admitted (200) exactly when it is a well-formed CURVE request whose
//   client key is the server authkey's client key; anything else is refused (400), and
//   every request is answered with its own request id;
// - the authkey remembered for an endpoint is the one given back for it.
#include <zmq.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "shared/mp/manager_auth.h"
#include "shared/zap_handler.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using shoal::fuzz::FuzzInput;
using shoal::internal::derive_manager_keys;
using shoal::internal::ManagerKeys;

std::string z85(const std::string& key) {
  char out[41];
  SHOAL_FUZZ_CHECK(key.size() == 32 &&
                   zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(key.data()), 32));
  return out;
}

// The public key of a secret key, by libzmq's own derivation.
std::string public_of(const std::string& secret) {
  char pub[41];
  SHOAL_FUZZ_CHECK(zmq_curve_public(pub, z85(secret).c_str()) == 0);
  return pub;
}

void check_keys(const ManagerKeys& keys, std::string_view authkey) {
  for (const auto* k : {&keys.server_public, &keys.server_secret, &keys.client_public,
                        &keys.client_secret}) {
    SHOAL_FUZZ_CHECK(k->size() == 32);
  }
  SHOAL_FUZZ_CHECK(public_of(keys.server_secret) == z85(keys.server_public));
  SHOAL_FUZZ_CHECK(public_of(keys.client_secret) == z85(keys.client_public));
  SHOAL_FUZZ_CHECK(keys.server_secret != keys.client_secret);
  const ManagerKeys again = derive_manager_keys(authkey);
  SHOAL_FUZZ_CHECK(again.server_public == keys.server_public &&
                   again.server_secret == keys.server_secret &&
                   again.client_public == keys.client_public &&
                   again.client_secret == keys.client_secret);
}

// A DEALER and the REP it talks to, in one process (inproc: no handshake, no network).
struct ZapPair {
  zmq::context_t ctx{1};
  zmq::socket_t rep{ctx, zmq::socket_type::rep};
  zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
  ZapPair() {
    rep.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::linger, 0);
    rep.bind("inproc://shoal-fuzz-zap");
    dealer.connect("inproc://shoal-fuzz-zap");
  }
};

ZapPair& zap_pair() {
  static ZapPair* pair = new ZapPair;  // one for the whole run
  return *pair;
}

}  // namespace

SHOAL_FUZZ_TARGET(manager_auth) {
  FuzzInput in(data, size);
  // The server's authkey and another one (either may be empty: the keys are still
  // derived, though a server without an authkey never asks).
  const std::string server_key = in.bytes(in.byte() % 48);
  const std::string other_key = in.bytes(in.byte() % 48);
  const ManagerKeys server = derive_manager_keys(server_key);
  const ManagerKeys other = derive_manager_keys(other_key);
  check_keys(server, server_key);
  check_keys(other, other_key);
  if (server_key != other_key) {
    SHOAL_FUZZ_CHECK(server.client_public != other.client_public);
    SHOAL_FUZZ_CHECK(server.server_public != other.server_public);
  }
  const std::string admitted = z85(server.client_public);  // as run_manager_server sets it

  // A ZAP request: mostly well-formed, with a client key that is the right one, the other
  // authkey's, its server key, or bytes from the input; or any frames at all.
  std::vector<std::string> frames;
  const uint8_t shape = in.byte();
  if (shape % 4 != 3) {
    frames = {"1.0", in.bytes(in.byte() % 8), "shoal-manager", "127.0.0.1", "", "CURVE"};
    switch (in.byte() % 5) {
      case 0: frames.push_back(server.client_public); break;
      case 1: frames.push_back(other.client_public); break;
      case 2: frames.push_back(server.server_public); break;
      case 3: frames.push_back(in.bytes(32)); break;
      default: frames.push_back(in.bytes(in.byte() % 40)); break;
    }
    // Then damage a field or two, or add some.
    for (uint8_t edits = in.byte() % 4; edits > 0; --edits) {
      const uint8_t what = in.byte();
      const size_t at = what % (frames.size() + 1);
      if (at == frames.size()) {
        frames.push_back(in.bytes(in.byte() % 16));
      } else if (what & 0x80) {
        frames.erase(frames.begin() + at);
      } else {
        frames[at] = in.bytes(in.byte() % 40);
      }
    }
  } else {
    for (uint8_t n = in.byte() % 10; n > 0; --n) frames.push_back(in.bytes(in.byte() % 40));
  }
  if (frames.empty()) frames.emplace_back();  // libzmq never sends a request without frames

  ZapPair& pair = zap_pair();
  std::vector<zmq::const_buffer> message = {zmq::const_buffer(nullptr, 0)};  // REQ envelope
  for (const auto& f : frames) message.push_back(zmq::buffer(f));
  SHOAL_FUZZ_CHECK(zmq::send_multipart(pair.dealer, message, zmq::send_flags::dontwait));
  int asked = 0;
  const auto status = shoal::internal::answer_zap_requests(
      pair.rep, [&](const std::string& key, const std::string&) {
        ++asked;
        return key == admitted;
      });
  SHOAL_FUZZ_CHECK(status.ok());
  std::vector<zmq::message_t> reply;
  SHOAL_FUZZ_CHECK(
      zmq::recv_multipart(pair.dealer, std::back_inserter(reply), zmq::recv_flags::dontwait));
  SHOAL_FUZZ_CHECK(reply.size() == 7 && reply[0].size() == 0);
  const bool well_formed = frames.size() >= 7 && frames[0] == "1.0" && frames[5] == "CURVE" &&
                           frames[6].size() == 32;
  const bool right_key = well_formed && frames[6] == server.client_public;
  SHOAL_FUZZ_CHECK(asked == (well_formed ? 1 : 0));
  SHOAL_FUZZ_CHECK(reply[1].to_string_view() == "1.0");
  SHOAL_FUZZ_CHECK(reply[2].to_string() == (frames.size() > 1 ? frames[1] : ""));
  SHOAL_FUZZ_CHECK(reply[3].to_string_view() == (right_key ? "200" : "400"));
  if (server_key != other_key && frames.size() >= 7 && frames[6] == other.client_public) {
    SHOAL_FUZZ_CHECK(reply[3].to_string_view() == "400");  // a wrong authkey never gets in
  }

  // The authkey remembered for an endpoint (one of a few, so the table stays small).
  const std::string endpoint = "tcp://fuzz:" + std::to_string(in.byte() % 4 + 1);
  const std::string remembered = in.rest();
  shoal::internal::remember_manager_authkey(endpoint, remembered);
  SHOAL_FUZZ_CHECK(shoal::internal::manager_authkey_for(endpoint) == remembered);
}
