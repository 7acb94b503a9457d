// gRPC's log lines collected instead of written to stderr (shared/grpc_log_capture.cc,
// which shoal-broker and the `shoal` CLI use).
#include "shared/grpc_log_capture.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::internal {
namespace {

using ::testing::ElementsAre;

// gRPC logs nothing before grpc_init() has read its verbosity.
class GrpcLogCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override { grpc_init(); }
  void TearDown() override { grpc_shutdown(); }
};

TEST_F(GrpcLogCaptureTest, CollectsWhatGrpcLogsAndFindsTheSystemsReason) {
  GrpcLogCapture capture;
  gpr_log(GPR_ERROR, "UNKNOWN:No address added {children:[UNKNOWN:%s {errno:98, os_error:\"%s\"}]}",
          "Address already in use", "Address already in use");
  EXPECT_EQ(capture.messages().size(), 1u);
  EXPECT_EQ(capture.os_error(), "Address already in use");
}

TEST_F(GrpcLogCaptureTest, WithoutAReasonOsErrorIsEmpty) {
  GrpcLogCapture capture;
  gpr_log(GPR_ERROR, "Invalid cert chain file.");
  EXPECT_THAT(capture.messages(), ElementsAre("Invalid cert chain file."));
  EXPECT_EQ(capture.os_error(), "");
}

TEST_F(GrpcLogCaptureTest, CapturesLivingTogetherEachGetEveryMessageFromTheirStart) {
  GrpcLogCapture outer;
  gpr_log(GPR_ERROR, "first");
  {
    GrpcLogCapture inner;
    gpr_log(GPR_ERROR, "second");
    EXPECT_THAT(inner.messages(), ElementsAre("second"));
  }
  gpr_log(GPR_ERROR, "third");
  EXPECT_THAT(outer.messages(), ElementsAre("first", "second", "third"));
}

// The CLI captures for its whole life: a line per retry must not pile up.
TEST_F(GrpcLogCaptureTest, KeepsTheFirstMessagesOnly) {
  GrpcLogCapture capture;
  for (std::size_t i = 0; i < GrpcLogCapture::kMaxMessages + 5; ++i) {
    gpr_log(GPR_ERROR, "message %zu", i);
  }
  std::vector<std::string> messages = capture.messages();
  ASSERT_EQ(messages.size(), GrpcLogCapture::kMaxMessages);
  EXPECT_EQ(messages.front(), "message 0");
  EXPECT_EQ(messages.back(), "message " + std::to_string(GrpcLogCapture::kMaxMessages - 1));
}

}  // namespace
}  // namespace shoal::internal
