// gRPC's log lines collected instead of written to stderr (broker/grpc_log_capture.cc).
#include "broker/grpc_log_capture.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::broker {
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

}  // namespace
}  // namespace shoal::broker
