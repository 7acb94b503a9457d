// Helper for shared_memory_test: an unrelated executable that attaches to a named
// segment, checks the creator's bytes, and writes its own.
//   shm_attach_main NAME   -> reads buf[0..3] == "ping", writes "pong" at buf[4..7]
#include <cstdio>
#include <cstring>
#include <exception>

#include "shoal/shared_memory.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    shoal::SharedMemory shm(argv[1], 0, false);
    auto buf = shm.buf();
    if (buf.size() < 8 || std::memcmp(buf.data(), "ping", 4) != 0) return 3;
    std::memcpy(buf.data() + 4, "pong", 4);
    std::printf("attached %zu\n", shm.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
