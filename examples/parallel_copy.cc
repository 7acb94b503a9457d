// Two processes copy the two halves of a file at the same time:
//   example_parallel_copy SOURCE DESTINATION
// Each opens both files itself and copies its byte range with pread/pwrite, so the
// halves may be written in any order; the result is byte-for-byte the source.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <shoal/shoal.hpp>
#include <stdexcept>
#include <string>
#include <vector>

// Copies bytes [from, to) of `src` into the same range of `dst`.
void copy_range(const std::string& src, const std::string& dst, off_t from, off_t to) {
  int in = open(src.c_str(), O_RDONLY);
  int out = open(dst.c_str(), O_WRONLY);
  if (in < 0 || out < 0) throw std::runtime_error("cannot open " + src + " or " + dst);
  std::vector<char> buf(1 << 16);
  for (off_t at = from; at < to;) {
    ssize_t n = pread(in, buf.data(), std::min<off_t>(to - at, buf.size()), at);
    if (n <= 0) throw std::runtime_error("read failed");
    if (pwrite(out, buf.data(), n, at) != n) throw std::runtime_error("write failed");
    at += n;
  }
  close(in);
  close(out);
  std::cout << shoal::current_process_name() << " copied bytes " << from << ".." << to << std::endl;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " SOURCE DESTINATION\n";
    return 2;
  }
  std::string src = argv[1], dst = argv[2];
  struct stat st;
  if (stat(src.c_str(), &st) != 0) {
    std::cerr << "cannot stat " << src << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  // Create the destination at full size first, so both halves can be written at once.
  int fd = open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, st.st_size) != 0) {
    std::cerr << "cannot create " << dst << ": " << std::strerror(errno) << "\n";
    if (fd >= 0) close(fd);
    return 1;
  }
  close(fd);

  off_t half = st.st_size / 2;
  shoal::Process first(copy_range, src, dst, off_t{0}, half);
  shoal::Process second(copy_range, src, dst, half, st.st_size);
  first.start();
  second.start();
  first.join();
  second.join();
  bool ok = first.exitcode() == 0 && second.exitcode() == 0;
  std::cout << (ok ? "copied " : "failed ") << st.st_size << " bytes" << std::endl;
  return ok ? 0 : 1;
}
