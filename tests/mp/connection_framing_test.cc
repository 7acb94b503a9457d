// What a Connection's reader does with bytes its writer would never send: a length it
// does not follow, bytes on a Pipe's socket without their record, records and positions
// scribbled over in the shared-memory lane. A clear error, never a hang, a crash or an
// allocation of the claimed size. Each case is an input the connection_frames fuzz target
// found (tests/fuzz/corpus/connection_frames).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "shared/mp/channel.h"
#include "shoal/connection.hpp"
#include "shoal/errors.hpp"

namespace shoal {
namespace {

using internal::Channel;
using internal::ChannelHeader;
using internal::kChannelBytes;
using internal::kChannelHeader;
using internal::kChannelRing;

// A socket pair; end 1 is the writer's.
class FramingTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  // Writes `bytes` as the writer, then closes its end.
  void write_and_close(std::string_view bytes) {
    ASSERT_EQ(::send(fds_[1], bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
    ::close(fds_[1]);
    fds_[1] = -1;
  }
  int fds_[2] = {-1, -1};
};

// Before: recv() allocated the claimed terabyte up front (std::bad_alloc, or an abort
// under ASan) instead of finding the end of the stream.
TEST_F(FramingTest, ALengthThatIsNotFollowedEndsInEofNotAnAllocation) {
  std::string stream;
  const uint32_t long_frame = 0xffffffffu;
  const uint64_t claimed = uint64_t{1} << 40;
  stream.append(reinterpret_cast<const char*>(&long_frame), 4);
  stream.append(reinterpret_cast<const char*>(&claimed), 8);
  stream.append(70000, 'x');  // more than the reader buffers, far less than claimed
  write_and_close(stream);
  Connection reader(fds_[0], true, false);
  fds_[0] = -1;
  EXPECT_THROW(reader.recv_bytes(), EOFError);
}

// A Pipe lane on private memory, read by this thread.
class LaneTest : public FramingTest {
 protected:
  std::unique_ptr<std::byte[]> lane_{new std::byte[kChannelBytes]()};
  ChannelHeader* header() { return reinterpret_cast<ChannelHeader*>(lane_.get()); }
  std::byte* ring() { return lane_.get() + kChannelHeader; }
};

// Before: with no record in the ring, the reader peeked the stray byte, found it was no
// wake-up token, and polled again, spinning for ever (even after the writer closed).
TEST_F(LaneTest, BytesOnTheSocketWithoutARecordAreAnErrorNotASpin) {
  Channel writer(lane_.get(), fds_[1]);
  writer.send("first");
  write_and_close(std::string(2, '\0'));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // a reader that spins is killed by the alarm
    ::alarm(5);
    Channel reader(lane_.get(), fds_[0]);
    int code = reader.recv() == "first" ? 2 : 1;
    try {
      (void)reader.recv();
    } catch (const EOFError&) {
      code = 3;
    } catch (const Error&) {
      code = code == 2 ? 0 : 1;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the reader did not finish (signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Before: a tail far ahead of the head made the zeroed ring read as endless empty
// messages.
TEST_F(LaneTest, ATailBeyondTheRingIsAnError) {
  Channel writer(lane_.get(), fds_[1]);
  Channel reader(lane_.get(), fds_[0]);
  writer.send("kept");
  EXPECT_EQ(reader.recv(), "kept");
  header()->tail.store(header()->head.load() + 2 * kChannelRing);
  EXPECT_THROW(reader.recv(), Error);
}

// Before: a record claiming more than the ring holds was copied from beyond the ring.
TEST_F(LaneTest, ARecordLongerThanTheRingIsAnError) {
  Channel reader(lane_.get(), fds_[0]);
  const uint32_t record[2] = {0xffff0000u, 0};
  std::memcpy(ring(), record, sizeof record);
  header()->tail.store(64);
  EXPECT_THROW(reader.recv(), Error);
  const uint32_t past_tail[2] = {100, 0};  // longer than what was published
  std::memcpy(ring(), past_tail, sizeof past_tail);
  EXPECT_THROW(reader.recv(), Error);
}

}  // namespace
}  // namespace shoal
