#include "shared/endpoint.h"

#include <string>

namespace shoal::internal {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
         c == '_';
}

// Why `address` is no HOST:PORT, or "" if it is one.
std::string host_port_error(std::string_view address, EndpointUse use) {
  const bool bind = use == EndpointUse::kBind;
  if (address.empty()) return "it is empty";
  size_t colon = address.rfind(':');
  if (address.front() == '[') {  // [IPv6]:PORT; the address holds colons of its own
    size_t close = address.find(']');
    if (close == std::string_view::npos) return "the IPv6 address has no closing ']'";
    std::string_view ip = address.substr(1, close - 1);
    std::string_view zone;  // fe80::1%eth0
    if (size_t percent = ip.find('%'); percent != std::string_view::npos) {
      zone = ip.substr(percent + 1);
      ip = ip.substr(0, percent);
      bool name = !zone.empty();
      for (char c : zone) name = name && is_name_char(c);
      if (!name) ip = "";
    }
    if (ip.empty() || ip.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return "'" + std::string(address.substr(0, close + 1)) + "' is not an IPv6 address";
    }
    if (close + 1 >= address.size() || address[close + 1] != ':') return "the port is missing";
    colon = close + 1;
  } else {
    if (colon == std::string_view::npos) return "the port is missing";
    std::string_view host = address.substr(0, colon);
    if (host.empty()) return "the host is missing";
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address goes in brackets, e.g. [::1]:PORT";
    }
    bool name = true;
    for (char c : host) name = name && is_name_char(c);
    if (!name && !(bind && host == "*")) return "'" + std::string(host) + "' is not a host name";
  }
  std::string_view port = address.substr(colon + 1);
  if (bind && (port == "*" || port == "0")) return "";
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && is_digit(c);
  int number = digits ? std::stoi(std::string(port)) : -1;
  if (number < 1 || number > 65535) {
    return std::string("the port must be 1..65535") + (bind ? " (or 0: any free port)" : "") +
           ", not '" + std::string(port) + "'";
  }
  return "";
}

}  // namespace

absl::Status check_host_port(std::string_view address, EndpointUse use) {
  std::string why = host_port_error(address, use);
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("'" + std::string(address) + "' is not HOST:PORT: " + why);
}

absl::Status check_tcp_endpoint(std::string_view endpoint, EndpointUse use) {
  constexpr std::string_view kScheme = "tcp://";
  bool tcp = endpoint.substr(0, kScheme.size()) == kScheme;
  std::string why =
      tcp ? host_port_error(endpoint.substr(kScheme.size()), use) : "it must start with tcp://";
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("'" + std::string(endpoint) +
                                    "' is not tcp://HOST:PORT: " + why);
}

bool zmq_bind_needs_ipv6(std::string_view endpoint) {
  constexpr std::string_view kScheme = "tcp://";
  if (endpoint.substr(0, kScheme.size()) != kScheme) return false;
  std::string_view host = endpoint.substr(kScheme.size());
  host = host.substr(0, host.rfind(':'));
  return host.empty() || host.find_first_not_of("0123456789.") != std::string_view::npos;
}

}  // namespace shoal::internal
