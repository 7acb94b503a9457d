// Parent and child each print the module (program) name, their parent's pid and their
// own pid: the child's parent is the parent process.
#include <unistd.h>

#include <iostream>
#include <shoal/shoal.hpp>
#include <string>

void info(const std::string& title) {
  std::cout << title << ": module example_process_info, process " << shoal::current_process_name()
            << ", parent pid " << getppid() << ", pid " << getpid() << std::endl;
}

int main() {
  info("main line");
  shoal::Process p([] {
    info("function f");
    std::cout << "hello bob" << std::endl;
  });
  p.start();
  p.join();
}
