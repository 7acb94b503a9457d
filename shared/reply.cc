#include "shoal/internal/reply.h"

namespace shoal::internal {

void reply_failed(std::string& reply, const ErrorInfo& error) {
  reply.push_back(kReplyFailed);
  encode_to(reply, error);
}

ErrorInfo ReplyReader::next_error() {
  try {
    return decode_next<ErrorInfo>(reply_, offset_);
  } catch (const SerializationError& e) {
    return broken("malformed error item");
  }
}

ErrorInfo ReplyReader::broken(const char* why) {
  broken_ = true;
  return ErrorInfo{ErrorKind::kSerialization, "shoal::SerializationError",
                   std::string("malformed task reply: ") + why, ""};
}

}  // namespace shoal::internal
