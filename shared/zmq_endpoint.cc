#include "shared/zmq_endpoint.h"

#include <string>

namespace shoal::internal {

absl::Status check_tcp_endpoint(std::string_view endpoint, EndpointUse use) {
  constexpr std::string_view kScheme = "tcp://";
  const bool bind = use == EndpointUse::kBind;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError("'" + std::string(endpoint) +
                                      "' is not tcp://HOST:PORT: " + why);
  };
  if (endpoint.substr(0, kScheme.size()) != kScheme) return bad("it must start with tcp://");
  std::string_view rest = endpoint.substr(kScheme.size());
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad("the port is missing");
  std::string_view host = rest.substr(0, colon);
  std::string_view port = rest.substr(colon + 1);
  // "[::1]" holds colons of its own: the port's colon is the one after ']'.
  if (host.empty() || (host.find(':') != std::string_view::npos && host.back() != ']')) {
    return bad("the host is missing (an IPv6 address goes in brackets: [::1])");
  }
  if (bind && (port == "*" || port == "0")) return absl::OkStatus();
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && c >= '0' && c <= '9';
  int number = digits ? std::stoi(std::string(port)) : -1;
  if (number < 1 || number > 65535) {
    return bad(std::string("the port must be 1..65535") + (bind ? " (or 0: any free port)" : "") +
               ", not '" + std::string(port) + "'");
  }
  return absl::OkStatus();
}

}  // namespace shoal::internal
