#include "tests/integration/hosts.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace shoal::itest {
namespace {

constexpr const char* kSwitch = "sw";

std::string ip_binary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

// Runs `command` through the shell; true on exit status 0. Its output goes to `output`.
bool run(const std::string& command, std::string* output = nullptr) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return false;
  std::string text;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe)) text += buffer;
  int status = pclose(pipe);
  if (output) *output = command + ": " + text;
  return status == 0;
}

// The pid in a namespace name "shoal-PID-…", or 0.
pid_t owner_of(const std::string& netns) {
  if (netns.rfind("shoal-", 0) != 0) return 0;
  try {
    return static_cast<pid_t>(std::stol(netns.substr(6)));
  } catch (const std::exception&) {
    return 0;
  }
}

// Deletes the namespaces left by test processes that died without cleaning up.
void remove_stale(const std::string& ip) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = entry.path().filename();
    pid_t pid = owner_of(name);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) run(ip + " netns del " + name);
  }
}

}  // namespace

std::string Hosts::Host::netns() const {
  return generation == 0 ? prefix : prefix + "." + std::to_string(generation);
}

std::string Hosts::Host::port() const {
  return "p" + std::to_string(index) + "g" + std::to_string(generation);
}

std::unique_ptr<Hosts> Hosts::create(const std::vector<std::string>& names, std::string& why) {
  if (geteuid() != 0) {
    why = "the cross-host tests need root to make network namespaces";
    return nullptr;
  }
  std::string ip = ip_binary();
  if (ip.empty()) {
    why = "the cross-host tests need iproute2's ip";
    return nullptr;
  }
  remove_stale(ip);
  std::unique_ptr<Hosts> hosts(new Hosts());
  hosts->prefix_ = "shoal-" + std::to_string(getpid());
  std::string sw = hosts->prefix_ + "-" + kSwitch;
  if (!run(ip + " netns add " + sw, &why)) return nullptr;
  hosts->namespaces_.push_back(sw);
  if (!run(ip + " -n " + sw + " link add br0 type bridge", &why) ||
      !run(ip + " -n " + sw + " link set br0 up", &why)) {
    return nullptr;
  }
  for (const auto& name : names) {
    Host host;
    host.index = static_cast<int>(hosts->hosts_.size()) + 1;
    host.prefix = hosts->prefix_ + "-" + name;
    if (!hosts->make_host(host, why)) return nullptr;
    hosts->hosts_[name] = host;
  }
  return hosts;
}

bool Hosts::make_host(Host& host, std::string& why) {
  std::string ip = ip_binary();
  std::string ns = host.netns();
  std::string sw = prefix_ + "-" + kSwitch;
  char mac[32];
  snprintf(mac, sizeof(mac), "02:77:00:00:00:%02x", host.index);
  if (!run(ip + " netns add " + ns, &why)) return false;
  namespaces_.push_back(ns);
  return run(ip + " -n " + ns + " link set lo up", &why) &&
         run(ip + " -n " + ns + " link add eth0 address " + mac + " type veth peer name " +
                 host.port() + " netns " + sw,
             &why) &&
         run(ip + " -n " + ns + " addr add 10.77.0." + std::to_string(host.index) +
                 "/24 dev eth0",
             &why) &&
         run(ip + " -n " + ns + " link set eth0 up", &why) &&
         run(ip + " -n " + sw + " link set " + host.port() + " master br0 up", &why);
}

Hosts::~Hosts() {
  std::string ip = ip_binary();
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    run(ip + " netns del " + *it);
  }
}

const Hosts::Host& Hosts::host(const std::string& name) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) throw std::invalid_argument("no host " + name);
  return it->second;
}

bool Hosts::enter(const std::string& name) {
  int fd = open(("/run/netns/" + host(name).netns()).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

std::vector<std::string> Hosts::launcher(const std::string& name) const {
  return {ip_binary(), "netns", "exec", host(name).netns()};
}

std::string Hosts::address(const std::string& name) const {
  return "10.77.0." + std::to_string(host(name).index);
}

void Hosts::cut(const std::string& name) { set_cable(name, "down"); }

void Hosts::heal(const std::string& name) { set_cable(name, "up"); }

void Hosts::set_cable(const std::string& name, const std::string& state) {
  std::string out;
  if (!run(ip_binary() + " -n " + prefix_ + "-" + kSwitch + " link set " + host(name).port() +
               " " + state,
           &out)) {
    throw std::runtime_error(out);
  }
}

void Hosts::replace(const std::string& name) {
  cut(name);
  Host& old = hosts_.at(name);
  Host fresh = old;
  ++fresh.generation;
  std::string why;
  if (!make_host(fresh, why)) throw std::runtime_error(why);
  old = fresh;
}

}  // namespace shoal::itest
