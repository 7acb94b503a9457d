// A writer puts A, B, C on a queue; a reader loops forever printing what it gets. Once
// the writer has joined and the reader has handled every item (JoinableQueue::join),
// the parent terminates the reader.
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>

int main() {
  shoal::JoinableQueue<std::string> q;
  shoal::Process reader([q]() mutable {
    for (;;) {  // never returns by itself
      std::string item = q.get();
      std::cout << "reader got " << item << std::endl;
      q.task_done();
    }
  });
  shoal::Process writer([q]() mutable {
    for (const char* item : {"A", "B", "C"}) q.put(item);
  });
  reader.start();
  writer.start();
  writer.join();
  q.join();            // every item read and printed
  reader.terminate();  // SIGTERM
  reader.join();
  std::cout << "reader exit code " << *reader.exitcode() << std::endl;
}
