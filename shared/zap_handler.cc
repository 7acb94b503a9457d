#include "shared/zap_handler.h"

#include <array>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "zmq_addon.hpp"

namespace shoal::internal {

absl::Status answer_zap_requests(
    zmq::socket_t& zap,
    absl::FunctionRef<bool(const std::string& key, const std::string& address)> admit) {
  std::vector<zmq::message_t> request;
  for (;;) {
    request.clear();
    try {
      if (!zmq::recv_multipart(zap, std::back_inserter(request), zmq::recv_flags::dontwait)) {
        return absl::OkStatus();
      }
    } catch (const zmq::error_t& e) {
      return absl::UnavailableError(absl::StrCat("ZAP: ", e.what()));
    }
    // version, request id, domain, address, routing id, mechanism, credentials...
    char key[41] = "?";
    const bool curve = request.size() >= 7 && request[0].to_string_view() == "1.0" &&
                       request[5].to_string_view() == "CURVE" && request[6].size() == 32 &&
                       zmq_z85_encode(key, request[6].data<uint8_t>(), 32) != nullptr;
    const bool allowed = curve && admit(key, request[3].to_string());
    const std::string request_id = request.size() > 1 ? request[1].to_string() : "";
    std::array<zmq::const_buffer, 6> reply = {
        zmq::str_buffer("1.0"), zmq::buffer(request_id),
        allowed ? zmq::str_buffer("200") : zmq::str_buffer("400"),
        allowed ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"),
        zmq::str_buffer(""), zmq::str_buffer("")};
    try {
      zmq::send_multipart(zap, reply, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      return absl::UnavailableError(absl::StrCat("ZAP: ", e.what()));
    }
  }
}

}  // namespace shoal::internal
