#pragma once
// Hosts: machines for the cross-host tests, made of Linux network namespaces on one
// box. Each host has its own network stack, an address 10.77.0.N/24 on its eth0, and a
// cable (a veth pair) into a switch (a bridge in a namespace of its own). A test cuts a
// host's cable to make a network partition — packets vanish, no connection is reset —
// and can replace a host by a fresh machine with the same address, as after a reboot.
//
// Making namespaces needs root (CAP_SYS_ADMIN) and iproute2's `ip`; where either is
// missing, Hosts::create says why and the tests skip.

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shoal::itest {

class Hosts {
 public:
  // Makes the switch and one host per name (addresses 10.77.0.1, .2, … in that order);
  // nullptr with `why` set when this machine cannot. Namespaces are named after this
  // process's pid, so concurrent test processes do not meet; those of dead processes
  // are removed first.
  static std::unique_ptr<Hosts> create(const std::vector<std::string>& names, std::string& why);
  // Deletes every namespace this object made.
  ~Hosts();
  Hosts(const Hosts&) = delete;
  Hosts& operator=(const Hosts&) = delete;

  // Moves the calling process (which must have no other thread yet) onto host `name`.
  bool enter(const std::string& name);
  // The argv prefix that runs a program on host `name` (`ip netns exec NS`).
  std::vector<std::string> launcher(const std::string& name) const;
  // The host's IPv4 address.
  std::string address(const std::string& name) const;
  // Unplugs / plugs back the host's cable: while cut, its packets are lost both ways.
  void cut(const std::string& name);
  void heal(const std::string& name);
  // Replaces the host by a new machine with the same address and MAC address, cabled
  // in: the old one stays cut off (its processes keep running until the test kills
  // them). What the old host's kernel knew of its connections is gone, as after a reboot.
  void replace(const std::string& name);

 private:
  struct Host {
    int index = 0;       // address 10.77.0.(index+1)
    int generation = 0;  // bumped by replace()
    std::string netns() const;
    std::string port() const;  // its cable's end on the switch
    std::string prefix;        // "shoal-PID-NAME"
  };
  Hosts() = default;
  bool make_host(Host& host, std::string& why);
  // Sets the switch's end of the host's cable "up" or "down".
  void set_cable(const std::string& name, const std::string& state);
  const Host& host(const std::string& name) const;

  std::string prefix_;  // "shoal-PID"
  std::map<std::string, Host> hosts_;
  std::vector<std::string> namespaces_;  // every one made, for the destructor
};

}  // namespace shoal::itest
