#include "shoal/shared_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tests/mp/run_command.h"

namespace shoal {
namespace {

std::string unique_name(const char* tag) {
  return std::string("shoal-test-") + tag + "-" + std::to_string(::getpid());
}

TEST(SharedMemoryTest, CreateAttachFromAnotherExecutableAndUnlink) {
  const std::string name = unique_name("attach");
  SharedMemory shm(name, 10000, true);
  EXPECT_EQ(shm.name(), name);
  EXPECT_EQ(shm.size(), 10000u);
  std::memcpy(shm.buf().data(), "ping", 4);
  auto result = testing_util::run_command(std::string(SHOAL_SHM_ATTACH_MAIN) + " " + name);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "attached 10000\n");
  EXPECT_EQ(std::memcmp(shm.buf().data() + 4, "pong", 4), 0);
  shm.unlink();
  EXPECT_THROW(SharedMemory(name, 0, false), Error);
}

TEST(SharedMemoryTest, CreateWhenExistsAndAttachWhenMissingThrow) {
  const std::string name = unique_name("exists");
  EXPECT_THROW(SharedMemory(name, 0, false), Error);
  SharedMemory shm(name, 4096, true);
  EXPECT_THROW(SharedMemory(name, 4096, true), Error);
  SharedMemory view(name, 0, false);
  EXPECT_EQ(view.size(), 4096u);
  view.buf()[100] = std::byte{7};
  EXPECT_EQ(shm.buf()[100], std::byte{7});
  EXPECT_THROW(SharedMemory(name, 8192, false), Error);  // larger than the segment
  view.close();
  EXPECT_TRUE(view.buf().empty());
  shm.unlink();
  EXPECT_THROW(shm.unlink(), Error);
}

TEST(SharedMemoryTest, AFailedCreateLeavesNoSegmentAndLongNamesSaySo) {
  const std::string name = unique_name("huge");
  try {
    SharedMemory(name, std::size_t{1} << 50, true);  // sized, but cannot be mapped
    FAIL() << "a 1 PiB segment was mapped";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot map"), std::string::npos) << e.what();
  }
  SharedMemory again(name, 4096, true);  // the name is free again
  again.unlink();
  try {
    SharedMemory(std::string(300, 'n'), 4096, true);
    FAIL() << "a 300-byte name was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than 255"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shoal
