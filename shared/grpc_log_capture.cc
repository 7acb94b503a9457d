#include "shared/grpc_log_capture.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <string_view>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shoal::internal {
namespace {

// gpr_log calls a plain function: the captures it feeds must be found through a global.
ABSL_CONST_INIT absl::Mutex mu(absl::kConstInit);
std::vector<std::vector<std::string>*>* active ABSL_GUARDED_BY(mu) = nullptr;

void collect(gpr_log_func_args* args) {
  absl::MutexLock lock(&mu);
  if (active == nullptr) return;
  for (std::vector<std::string>* messages : *active) {
    if (messages->size() >= GrpcLogCapture::kMaxMessages) continue;
    messages->emplace_back(args->message == nullptr ? "" : args->message);
  }
}

}  // namespace

GrpcLogCapture::GrpcLogCapture() {
  absl::MutexLock lock(&mu);
  if (active == nullptr) {
    active = new std::vector<std::vector<std::string>*>();
    gpr_set_log_function(collect);
  }
  active->push_back(&messages_);
}

GrpcLogCapture::~GrpcLogCapture() {
  absl::MutexLock lock(&mu);
  active->erase(std::find(active->begin(), active->end(), &messages_));
  if (active->empty()) {
    gpr_set_log_function(nullptr);  // gRPC's default writer
    delete active;
    active = nullptr;
  }
}

std::vector<std::string> GrpcLogCapture::messages() const {
  absl::MutexLock lock(&mu);
  return messages_;
}

std::string GrpcLogCapture::os_error() const {
  constexpr std::string_view kKey = "os_error:\"";
  for (const std::string& message : messages()) {
    size_t at = message.find(kKey);
    if (at == std::string::npos) continue;
    at += kKey.size();
    size_t end = message.find('"', at);
    if (end != std::string::npos && end > at) return message.substr(at, end - at);
  }
  return "";
}

}  // namespace shoal::internal
